/** Core's records as Syncano shows them: integer ids, microsecond times, "" for absent text, null size until done. */
import type { Static } from 'typebox';
import { type Backup, type BackupScope, type JobInfo, isUploaded } from '../../../core/index.js';
import type * as S from './schemas.js';
import { BACKUP_STATUS_WORD, RESTORE_STATUS_WORD } from './words.js';

/** `2016-04-25T09:23:58.154Z` → `2016-04-25T09:23:58.154000Z` (Django's `%Y-%m-%dT%H:%M:%S.%fZ`). */
export function syncanoTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export const backupPath = (scope: BackupScope, id: number) => `/v1/backups/${scope}/${id}/`;
export const restorePath = (instance: string, id: number) => `/v1/instances/${encodeURIComponent(instance)}/restores/${id}/`;

function common(b: Backup) {
  return { id: b.id, instance: b.instance, created_at: syncanoTime(b.createdAt), updated_at: syncanoTime(b.updatedAt) };
}

function tail(b: Backup) {
  return {
    // Syncano's size is the backup file's, known once the backup is done.
    size: b.status === 'success' ? b.size : null,
    status: BACKUP_STATUS_WORD[b.status], status_info: b.statusInfo ?? '', description: b.description ?? '', label: b.label ?? '',
    uploaded: isUploaded(b),
  };
}

export function fullBackupView(b: Backup): Static<typeof S.FullBackup> {
  return { ...common(b), ...tail(b), links: { self: backupPath('full', b.id) } };
}

/** `archive` is the signed download URL (null until the backup succeeded, and for viewers, who may not download). */
export function partialBackupView(b: Backup, archive: string | null): Static<typeof S.PartialBackup> {
  return { ...common(b), archive, ...tail(b), query_args: b.queryArgs ?? {}, links: { self: backupPath('partial', b.id) } };
}

export function restoreView(j: JobInfo): Static<typeof S.Restore> {
  return {
    id: j.id, backup: j.backupId, created_at: syncanoTime(j.createdAt), updated_at: syncanoTime(j.updatedAt),
    status: RESTORE_STATUS_WORD[j.state], archive: null, status_info: j.error ?? '', links: { self: restorePath(j.instance, j.id) },
  };
}
