/** The MQTT adapter's public face: Coffer as Eclipse Kanto's File Backup device. */
export { KantoDevice } from './device.js';
export type { KantoSettings } from './context.js';
export type { MqttSettings } from './connection.js';
export { KANTO_MODES, type KantoMode } from './directory-mode.js';
export { FEATURE_DEFINITIONS } from './feature.js';
export { parseGoDuration } from './periodic-backups.js';
