/**
 * Riverbed's words for core's states (docs/architecture.md). Records over core's unions, so a new
 * core state breaks this build until Riverbed has a word for it (STYLE K6).
 */
import type { BackupStatus, JobState } from '../../../core/index.js';

/** Riverbed's documentation's backup statuses. */
export const RIVERBED_BACKUP_STATUSES = ['completed', 'started', 'failed', 'uploading'] as const;
export type RiverbedBackupStatus = (typeof RIVERBED_BACKUP_STATUSES)[number];

export const BACKUP_STATUS_WORD: Record<BackupStatus, RiverbedBackupStatus> = {
  scheduled: 'started', running: 'started', uploading: 'uploading', success: 'completed', error: 'failed',
};

/** Riverbed's documentation's restore statuses; `not_run` is the word for "no restore yet". */
export const RIVERBED_RESTORE_STATUSES = ['not_run', 'started', 'failed', 'completed', 'completed_with_errors'] as const;
export type RiverbedRestoreStatus = (typeof RIVERBED_RESTORE_STATUSES)[number];

/** Restore jobs end completed, completed_with_errors or failed; the backup words cannot occur for restores. */
export const RESTORE_STATUS_WORD: Record<JobState, RiverbedRestoreStatus> = {
  scheduled: 'started', running: 'started', uploading: 'started',
  completed: 'completed', completed_with_errors: 'completed_with_errors', failed: 'failed',
  success: 'completed', error: 'failed',
};
