/** The core layer's public face. */
export { Core, type CoreOptions, type BootstrapCredentials } from './core.js';
export { CoreError, CORE_ERROR_CODES, type CoreErrorCode } from './errors.js';
export { type Actor, type Permission, PERMISSIONS, SYSTEM_ACTOR, allowed } from './permissions.js';
export type { Identity, Limits, CreateBackup, BackupQuery } from './backups.js';
export type { InstanceView } from './instances.js';
export type { RepositoryView } from './repositories.js';
export type { NewKey } from './auth.js';
export type { Part, DirectoryPart } from './parts.js';
export { BUILTIN_INSTANCE } from './instances.js';
export { nextRun } from './schedules.js';
export * from '../catalog/types.js';
