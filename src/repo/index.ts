/** The repository layer's public face: a library that reads and writes restic-format repositories. */
export * from './errors.js';
export { Repository, type InitOptions, type SnapshotFilter, matchesFilter } from './repository.js';
export { DEFAULT_KDF, TEST_KDF, type KDFParams, addKey, listKeys, removeKey, type KeyInfo } from './keys.js';
export { backup, type BackupOptions, type BackupProgress, type BackupResult } from './archiver.js';
export { backupStream, type StreamBackupOptions } from './stream-backup.js';
export { restore, type RestoreOptions, type RestoreProgress, type RestoreResult } from './restorer.js';
export { check, type CheckOptions, type CheckProblem, type CheckResult } from './checker.js';
export { forget, type ForgetOptions, type ForgetSnapshot } from './forget.js';
export { prune, type PruneOptions, type PruneStats } from './prune.js';
export { parseExcludeFile } from './exclude.js';
export { RepoLock, withLock, withLockOverlapped, removeLocks } from './lock.js';
export { type BackupType, BACKUP_TYPES, isBackupType, chooseParent } from './backup-type.js';
export * from './forget-policy.js';
export type { Snapshot, SnapshotJSON, SnapshotSummary } from './snapshot.js';
export type { TreeNode } from './node.js';
export { shortId, type ID } from './ids.js';
export { VERSION } from './version.js';
export { formatTime } from './time.js';
