/**
 * The native API's words for core's states (docs/architecture.md). Records over core's unions, so a
 * new core state breaks this build until it has a native word (STYLE K6).
 */
import type { BackupStatus, JobState } from '../../core/index.js';

export const NATIVE_BACKUP_STATUSES = ['scheduled', 'running', 'uploading', 'success', 'error'] as const;
export type NativeBackupStatus = (typeof NATIVE_BACKUP_STATUSES)[number];

export const BACKUP_STATUS_WORD: Record<BackupStatus, NativeBackupStatus> = {
  scheduled: 'scheduled', running: 'running', uploading: 'uploading', success: 'success', error: 'error',
};

export const NATIVE_RESTORE_STATUSES = ['running', 'completed', 'completed_with_errors', 'failed'] as const;
export type NativeRestoreStatus = (typeof NATIVE_RESTORE_STATUSES)[number];

/** Restore jobs use scheduled/running/completed/completed_with_errors/failed; the backup words cannot occur but must map somewhere. */
export const RESTORE_STATUS_WORD: Record<JobState, NativeRestoreStatus> = {
  scheduled: 'running', running: 'running', uploading: 'running',
  completed: 'completed', completed_with_errors: 'completed_with_errors', failed: 'failed',
  success: 'completed', error: 'failed',
};
