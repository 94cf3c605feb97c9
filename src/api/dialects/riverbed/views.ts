/** Core's records in Riverbed's shapes (docs/dialects.md). */
import type { Static } from 'typebox';
import { type Backup, type RestoreStatus, isUploaded } from '../../../core/index.js';
import type * as S from './schemas.js';
import { BACKUP_STATUS_WORD, RESTORE_STATUS_WORD } from './words.js';

const epochSeconds = (iso: string): number => Math.max(0, Math.floor(Date.parse(iso) / 1000));

export function backupView(b: Backup): Static<typeof S.Backup> {
  return {
    // A backup still being made has no time of its own yet: the time it was asked for.
    backup_time: epochSeconds(b.backupTime ?? b.createdAt),
    description: b.description ?? '',
    hostname: b.hostname,
    id: String(b.id),
    model: b.model,
    serial: b.serial,
    size: b.size,
    status: BACKUP_STATUS_WORD[b.status],
    status_message: b.statusInfo ?? '',
    sw_version: b.swVersion,
    uploaded: isUploaded(b),
    partial: b.scope === 'partial',
  };
}

export function restoreStatusView(s: RestoreStatus): Static<typeof S.RestoreStatus> {
  return {
    last_restore_time: s.at === null ? 0 : epochSeconds(s.at),
    status: s.state === null ? 'not_run' : RESTORE_STATUS_WORD[s.state],
    status_message: s.message,
  };
}
