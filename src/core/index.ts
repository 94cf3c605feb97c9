/** The core layer's public face. */
export { Core, type CoreOptions, type BootstrapCredentials } from './core.js';
export { type Logger, type LogFn, type LogLine, SILENT_LOGGER, logLineOf } from './logger.js';
export { CoreError, CORE_ERROR_CODES, type CoreErrorCode } from './errors.js';
export { type Actor, type Permission, PERMISSIONS, SYSTEM_ACTOR, allowed, localAdminActor } from './permissions.js';
export { type Identity, type Limits, type CreateBackup, type BackupQuery, MAX_DESCRIPTION, MAX_LABEL } from './backups.js';
export { NAME_PATTERN, USER_NAME_PATTERN } from './names.js';
export type { BackupFileDownload, BackupFileService, UploadOptions } from './backup-files.js';
export type { InstanceView } from './instances.js';
export type { RepositoryView } from './repositories.js';
export { type NewKey, MAX_USER_PASSWORD, MIN_USER_PASSWORD } from './auth.js';
export type { Part, DirectoryPart } from './parts.js';
export { PART_KINDS } from './parts.js';
export type { JobInfo } from './jobs.js';
export { type RestoreStatus, type RestoreStatusService, restoreStatusOfJob, restoreStatusOfReset } from './restore-status.js';
export { BUILTIN_INSTANCE, MAX_INSTANCE_DESCRIPTION } from './instances.js';
export { InstanceBusyError, KANTO_PART, type KantoRestoreSource, type KantoService, kantoCorrelationOf, kantoInstanceName } from './kanto.js';
export { UPLOADED_KEY, isUploaded, isWholeBackup } from './backup-origin.js';
export { nextRun } from './schedules.js';
export { type ChannelView, type EmailSettings, TLS_MODES } from './notifications/index.js';
export { DEFAULT_OVERDUE_GRACE_SECONDS } from './overdue.js';
export {
  NOTIFICATION_KINDS, NOTIFICATION_EVENTS, DELIVERY_STATUSES, type NotificationDelivery, type DeliveryStatus,
  ROLES, BACKUP_STATUSES, BACKUP_TYPES, JOB_KINDS, JOB_STATES, ACTIVE_JOB_STATES, isTerminal,
  type Role, type User, type ApiKey, type Instance, type Backup, type BackupStatus, type BackupKind, type BackupScope,
  type Job, type JobKind, type JobState, type JobProgress, type Schedule, type AuditEntry, type Page, type PartSpec,
} from '../catalog/index.js';
export { DEFAULT_MAX_CONCURRENT_UPLOADS, DEFAULT_TRANSFER_IDLE_MS } from './upload-limits.js';
