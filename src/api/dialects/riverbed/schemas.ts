/**
 * Riverbed npm.backup 1.0's shapes (docs/dialects.md): the backup object, the backups list, the restore
 * status object and the error body. Inline schemas in Riverbed's documentation's field order; responses forbid
 * undeclared fields, so response validation catches a view that drifts from Riverbed's documentation.
 */
import { Type } from 'typebox';
import { MAX_DESCRIPTION } from '../../../core/index.js';
import { StringEnum } from '../../schema-kit.js';
import { RIVERBED_BACKUP_STATUSES, RIVERBED_RESTORE_STATUSES } from './words.js';

const EpochSeconds = (description: string) => Type.Integer({ minimum: 0, description });

export const Backup = Type.Object({
  backup_time: EpochSeconds('The time the backup was taken, in Unix epoch seconds'),
  description: Type.String({ description: 'Description of this backup' }),
  hostname: Type.String({ description: 'Hostname of the device the backup was created on' }),
  id: Type.String({ description: 'The backup ID' }),
  model: Type.String({ description: 'Model of the device the backup was created on' }),
  serial: Type.String({ description: 'Serial of the device the backup was created on' }),
  size: Type.Integer({ minimum: 0, description: 'The size of the backup (its backup file), in bytes; 0 until it completed' }),
  status: StringEnum(RIVERBED_BACKUP_STATUSES, { description: 'Status of the backup' }),
  status_message: Type.String({ description: 'Extra information about backup status' }),
  sw_version: Type.String({ description: 'The software version running when the backup was created' }),
  uploaded: Type.Boolean({ description: 'Coffer: made from an uploaded backup file (dated by the upload; the file\'s own claims are not shown)' }),
  partial: Type.Boolean({ description: 'Coffer: holds only a selection of the device\'s files (a restore merges it rather than replacing the device\'s files)' }),
}, { additionalProperties: false, description: 'A single backup of a device' });

export const Backups = Type.Object({
  items: Type.Array(Backup, { description: 'All available backups' }),
}, { additionalProperties: false, description: 'List of all available backups' });

/**
 * What POST /backups takes: a backup object, of which only `description` is used; the read-only
 * fields may be sent back as a GET gave them (they are checked for type, then ignored).
 */
export const BackupBody = Type.Object({
  backup_time: Type.Optional(Type.Integer({ description: 'Read-only: ignored' })),
  description: Type.Optional(Type.String({ maxLength: MAX_DESCRIPTION, description: 'Description of this backup' })),
  hostname: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  id: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  model: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  serial: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  size: Type.Optional(Type.Integer({ description: 'Read-only: ignored' })),
  status: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  status_message: Type.Optional(Type.String({ description: 'Ignored: the server writes it' })),
  sw_version: Type.Optional(Type.String({ description: 'Read-only: ignored' })),
  uploaded: Type.Optional(Type.Boolean({ description: 'Read-only: ignored' })),
  partial: Type.Optional(Type.Boolean({ description: 'Read-only: ignored' })),
}, { description: 'A backup data object; only description is used' });

export const RestoreStatus = Type.Object({
  last_restore_time: EpochSeconds('Time of the last restore, in Unix epoch seconds; 0 if no restore has ever been performed'),
  status: StringEnum(RIVERBED_RESTORE_STATUSES, { description: 'Restore status' }),
  status_message: Type.String({ description: 'Further status information' }),
}, { additionalProperties: false, description: 'Status of the latest restore operation' });

export const IdParams = Type.Object({ id: Type.String({ description: 'The backup ID' }) });
/** Riverbed lists every backup at once; Coffer bounds one answer and lets a client page past the bound. */
export const MAX_LISTED = 1000;
export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LISTED, default: MAX_LISTED, description: `Backups in one answer, newest first (at most ${MAX_LISTED}); X-Total-Count has them all` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Backups to skip' })),
}, { additionalProperties: false });

export const ErrorBody = Type.Object({
  error_id: Type.String({ description: 'A stable code: INVALID_REQUEST, AUTH_REQUIRED, AUTH_FORBIDDEN, RESOURCE_NOT_FOUND, CONFLICT, QUOTA_EXCEEDED, REQUEST_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, TOO_MANY_ATTEMPTS, SERVICE_UNAVAILABLE, INTERNAL_ERROR' }),
  error_text: Type.String({ description: 'What went wrong' }),
}, { additionalProperties: false, description: 'An error' });
