/**
 * Syncano's shapes (Syncano's documentation and the Syncano platform's serializers): backups, restores, the
 * paginated list `{"objects", "prev", "next"}`, the OPTIONS metadata document, and the error
 * bodies (`{"detail": …}`, or `{"field": ["message"]}` for validation). Inline schemas, in the
 * documented field order (the serializer writes fields in schema order); responses forbid undeclared
 * fields so that response validation catches a view that drifts.
 */
import { type TSchema, Type } from 'typebox';
import { Nullable, StringEnum } from '../../schema-kit.js';
import { SYNCANO_BACKUP_STATUSES, SYNCANO_RESTORE_STATUSES } from './words.js';

/** Syncano's times: RFC 3339 with microseconds (`2016-04-25T09:23:58.154759Z`). */
const Time = () => Type.String({ format: 'date-time' });

const Links = Type.Object({ self: Type.String({ description: 'Path of this object (GET, DELETE)' }) }, { additionalProperties: false });

const backupCommon = {
  id: Type.Integer({ minimum: 1 }),
  instance: Type.String({ description: 'Name of the instance backed up' }),
  created_at: Time(),
  updated_at: Time(),
};
const backupTail = {
  size: Nullable(Type.Integer({ minimum: 0, description: 'Bytes of the backup file; null until the backup succeeded' })),
  status: StringEnum(SYNCANO_BACKUP_STATUSES),
  status_info: Type.String({ description: 'Why the backup failed, or warnings; empty otherwise' }),
  description: Type.String({ maxLength: 256 }),
  label: Type.String({ maxLength: 64 }),
  uploaded: Type.Boolean({ description: 'Coffer: made from an uploaded backup file, not by reading the instance' }),
};

export const FullBackup = Type.Object({ ...backupCommon, ...backupTail, links: Links }, { additionalProperties: false, description: 'A full backup (every part of the instance)' });

export const QueryArgs = Type.Record(Type.String(), Nullable(Type.Array(Type.String())), {
  description: 'Part name → null (the whole part) or the relative paths inside it to back up. A part not named is backed up whole; an empty list backs up nothing of it.',
});

export const PartialBackup = Type.Object({
  ...backupCommon,
  archive: Nullable(Type.String({ description: 'URL of the backup file (ZIP), downloadable without an API key until it expires; null until the backup succeeded' })),
  ...backupTail,
  query_args: QueryArgs,
  links: Links,
}, { additionalProperties: false, description: 'A partial backup (the parts and items query_args selects)' });

export const Restore = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  backup: Nullable(Type.Integer({ minimum: 1 })),
  created_at: Time(),
  updated_at: Time(),
  status: StringEnum(SYNCANO_RESTORE_STATUSES),
  archive: Type.Null({ description: 'Restores from an uploaded archive are not supported: always null' }),
  status_info: Type.String(),
  links: Links,
}, { additionalProperties: false, description: 'A restore of a backup into this instance' });

export function ListOf<T extends TSchema>(item: T) {
  return Type.Object({
    objects: Type.Array(item),
    prev: Nullable(Type.String({ description: 'Path of the previous page' })),
    next: Nullable(Type.String({ description: 'Path of the next page' })),
  }, { additionalProperties: false });
}

export const PageQuery = Type.Object({
  page_size: Type.Optional(Type.String({ description: 'Objects per page: digits, 0 to 100 (default 100). A larger number is taken as 100, as Syncano did; anything but digits is 400 (`Incorrect page parameter provided.`)' })),
  ordering: Type.Optional(Type.String({ description: '`asc` (default: oldest first) or `desc`; any other value is taken as `asc`, as Syncano did' })),
  direction: Type.Optional(Type.String({ description: '1: the page after last_pk; 0: the page before it (as in `next` and `prev`)' })),
  last_pk: Type.Optional(Type.String({ description: 'The id the page starts after (direction 1) or before (direction 0)' })),
});

const JsonValue = Type.Unsafe<unknown>({ description: 'Any JSON value' });
export const Metadata = Type.Object({
  name: Type.String(),
  description: Type.String(),
  renders: Type.Array(Nullable(Type.String())),
  parses: Type.Array(Type.String()),
  actions: Type.Record(Type.String(), Type.Record(Type.String(), JsonValue)),
}, { additionalProperties: false, description: 'What the endpoint takes (Django REST framework metadata); query_args.schema is the JSON schema of this instance\'s parts' });

export const BackupBody = Type.Object({
  label: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  description: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
}, { description: 'Fields not listed are ignored' });

export const PartialBackupBody = Type.Object({
  ...BackupBody.properties,
  query_args: Type.Union([QueryArgs, Type.String({ description: 'The same object as JSON text (form posts)' })]),
}, { description: 'Fields not listed are ignored' });

export const RestoreBody = Type.Object({
  backup: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,10}$' })], { description: 'Id of a successful backup' }),
}, { description: 'Fields not listed are ignored' });

export const InstanceParams = Type.Object({ instance: Type.String() });
export const IdParams = Type.Object({ id: Type.String() });
export const InstanceIdParams = Type.Object({ instance: Type.String(), id: Type.String() });
