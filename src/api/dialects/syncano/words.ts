/**
 * Syncano's words for core's states (docs/architecture.md). Records over core's unions, so a new
 * core state breaks this build until Syncano has a word for it (STYLE K6).
 */
import type { BackupStatus, JobState } from '../../../core/index.js';

export const SYNCANO_BACKUP_STATUSES = ['scheduled', 'running', 'uploading', 'success', 'error'] as const;
export type SyncanoBackupStatus = (typeof SYNCANO_BACKUP_STATUSES)[number];

export const BACKUP_STATUS_WORD: Record<BackupStatus, SyncanoBackupStatus> = {
  scheduled: 'scheduled', running: 'running', uploading: 'uploading', success: 'success', error: 'error',
};

/** Syncano's restore statuses (its Restore model): no `uploading`. */
export const SYNCANO_RESTORE_STATUSES = ['scheduled', 'running', 'success', 'error'] as const;
export type SyncanoRestoreStatus = (typeof SYNCANO_RESTORE_STATUSES)[number];

/**
 * Restore jobs end completed, completed_with_errors or failed. Syncano has no word for "done, with
 * some files not written": it is `success` with the problems in `status_info` (the restore did put
 * the backup back; what it could not write is listed). The backup words cannot occur for restores.
 */
export const RESTORE_STATUS_WORD: Record<JobState, SyncanoRestoreStatus> = {
  scheduled: 'scheduled', running: 'running', uploading: 'running',
  completed: 'success', completed_with_errors: 'success', failed: 'error',
  success: 'success', error: 'error',
};
