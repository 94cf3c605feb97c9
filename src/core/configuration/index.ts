/** Coffer's own configuration: export and import sealed with a password, reset, and its place in backups of `device`. */
export { ConfigurationService, type ConfigurationDeps, CONFIGURATION_PART, CONFIGURATION_FILE, FACTORY_RESET_SETTING } from './service.js';
export type { OwnParts, OwnPartsRestore } from './own-parts.js';
export { DOCUMENT_FILE, FORMAT_NAME, FORMAT_VERSION } from './document.js';
