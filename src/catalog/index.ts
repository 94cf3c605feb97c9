/** The catalog layer's public face. */
export { Catalog } from './catalog.js';
export type { CatalogCapabilities } from './dialects/opened.js';
export { UniqueViolation } from './errors.js';
export type { NewBackup, BackupFilter, BackupPatch } from './backups.js';
export type { NewJob, JobFilter } from './jobs.js';
export type { ScheduleInput } from './schedules.js';
export type { ChannelInput, NewDelivery, DeliveryFilter } from './notifications.js';
export type { InstanceInput } from './instances.js';
export {
  ConfigurationStore, type ConfigurationRecords, type ConfigRepository, type ConfigInstance, type ConfigSchedule, type ConfigNotification, type ConfigUser, type ConfigApiKey,
  type ReplaceReport, type ReplaceOptions, type KeptInstance, type FirstStartState,
} from './configuration.js';
export * from './types.js';
