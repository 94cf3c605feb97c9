/**
 * The native API's shared entity schemas (STYLE F2/F3): each is added once with its `$id`, referred
 * to by `Ref()` in route schemas, and becomes a component of the OpenAPI document. Response schemas
 * forbid undeclared fields, so a field a view forgets to map (or leaks) is caught by response
 * validation in tests, and dropped by the serializer otherwise.
 */
import { type TSchema, Type } from 'typebox';
import { BACKUP_TYPES, DELIVERY_STATUSES, JOB_KINDS, JOB_STATES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS, PART_KINDS, ROLES, TLS_MODES } from '../../core/index.js';
import { ErrorBody } from '../errors-schema.js';
import { DateTime, Nullable, Ref, StringEnum } from '../schema-kit.js';
import { NATIVE_BACKUP_STATUSES, NATIVE_RESTORE_STATUSES } from './words.js';

const Count = (description: string) => Type.Integer({ minimum: 0, description });
const Id = (kind: string) => Type.String({ description: `${kind} id, \`${kind}-<n>\``, examples: [`${kind}-123`] });

export const backupProperties = {
  id: Id('backup'),
  instance: Type.String({ description: 'The instance backed up' }),
  type: StringEnum(BACKUP_TYPES),
  label: Nullable(Type.String()),
  description: Nullable(Type.String()),
  status: StringEnum(NATIVE_BACKUP_STATUSES),
  status_info: Nullable(Type.String({ description: 'Why the backup failed, or warnings' })),
  created_at: DateTime(),
  updated_at: DateTime(),
  backup_time: Nullable(DateTime('When the snapshot was taken')),
  size: Count('Bytes of the files backed up'),
  bytes_added: Count('New data this backup added to the repository (before compression)'),
  files: Count('Files backed up'),
  snapshot_id: Nullable(Type.String({ description: 'The restic snapshot id' })),
  parent_id: Nullable(Type.String({ description: 'The backup this one is based on (incremental, differential)' })),
  hostname: Type.String(),
  model: Type.String(),
  serial: Type.String(),
  sw_version: Type.String(),
  include_files: Type.Boolean(),
  include_database: Type.Boolean(),
  created_by: Nullable(Type.String()),
  schedule_id: Nullable(Type.String()),
  uploaded: Type.Boolean({ description: 'Made from an uploaded backup file: its time is the upload\'s, and what the file claimed (time, host, paths) is information only' }),
};

export const Backup = Type.Object(backupProperties, { $id: 'Backup', additionalProperties: false, description: 'A backup: the catalog record of one snapshot, including one still being made' });

export const BackupCreated = Type.Object({
  backup_id: Id('backup'),
  job_id: Id('job'),
  ...backupProperties,
}, { $id: 'BackupCreated', additionalProperties: false, description: 'The backup just recorded, with the job that makes it' });

export const Progress = Type.Object({
  files_done: Count('Files done'),
  files_total: Nullable(Count('Files in all, once known')),
  bytes_done: Count('Bytes done'),
  bytes_total: Nullable(Count('Bytes in all, once known')),
  rate: Nullable(Type.Number({ minimum: 0, description: 'Bytes per second' })),
  eta_seconds: Nullable(Type.Number({ minimum: 0 })),
  errors: Count('Files that could not be read or written'),
}, { $id: 'Progress', additionalProperties: false, description: 'How far a job has got' });

export const RestoreJob = Type.Object({
  job_id: Id('job'),
  backup_id: Nullable(Id('backup')),
  instance: Type.String({ description: 'The instance restored into (the target)' }),
  status: StringEnum(NATIVE_RESTORE_STATUSES),
  progress: Ref(Progress),
  error: Nullable(Type.String()),
  created_at: DateTime(),
  started_at: Nullable(DateTime()),
  finished_at: Nullable(DateTime()),
}, { $id: 'RestoreJob', additionalProperties: false, description: 'A restore job, in the native API\'s words' });

export const Job = Type.Object({
  id: Id('job'),
  kind: StringEnum(JOB_KINDS),
  state: StringEnum(JOB_STATES),
  instance: Type.String(),
  backup_id: Nullable(Id('backup')),
  schedule_id: Nullable(Id('schedule')),
  progress: Ref(Progress),
  error: Nullable(Type.String()),
  created_by: Nullable(Type.String()),
  created_at: DateTime(),
  updated_at: DateTime(),
  started_at: Nullable(DateTime()),
  finished_at: Nullable(DateTime()),
  cancel_requested: Type.Boolean(),
  attempts: Type.Integer({ minimum: 0, description: 'Times a worker started the job. A backup whose worker died, or whose repository stayed locked, is queued again, up to 3 attempts in all' }),
  attempt_errors: Type.Array(Type.String(), { description: 'Why each attempt ended without a result, oldest first (the last one included when the job failed)' }),
}, { $id: 'Job', additionalProperties: false, description: 'A job (backup, restore or retention) in core\'s words' });

const Keep = (what: string) => Nullable(Type.Integer({ minimum: 0, description: `Keep the last N ${what} snapshots (null or 0: no such rule)` }));

export const Schedule = Type.Object({
  id: Id('schedule'),
  instance: Type.String(),
  cron: Type.String({ description: 'Cron expression: 5 fields, or 6 with seconds' }),
  timezone: Nullable(Type.String({ description: 'IANA time zone; null for the server\'s' })),
  type: StringEnum(BACKUP_TYPES),
  enabled: Type.Boolean(),
  retention_days: Nullable(Type.Integer({ minimum: 0 })),
  keep_last: Keep(''),
  keep_hourly: Keep('hourly'),
  keep_daily: Keep('daily'),
  keep_weekly: Keep('weekly'),
  keep_monthly: Keep('monthly'),
  keep_yearly: Keep('yearly'),
  retention_includes_uploaded: Type.Boolean({ description: 'Retention counts uploaded backups too; false: it leaves them alone' }),
  label: Nullable(Type.String()),
  created_at: DateTime(),
  updated_at: DateTime(),
  last_run_at: Nullable(DateTime()),
  next_run_at: Nullable(DateTime()),
  last_result: Nullable(Type.String()),
  ping_url_set: Type.Boolean({ description: 'Whether a Healthchecks ping URL is set (the URL itself is a credential and never shown)' }),
  overdue_grace_seconds: Nullable(Type.Integer({ minimum: 1, description: 'A run must succeed within this many seconds of its expected time, else the schedule is overdue; null: the server\'s default (3600)' })),
}, { $id: 'Schedule', additionalProperties: false, description: 'A backup schedule with its retention' });

export const COFFER_DATA = 'true: also back up Coffer\'s own files where this part covers them (server secret, catalog, uploads/, kanto/, state/, the default repository); '
  + 'without it they are always left out';

export const Part = Type.Object({
  name: Type.String(),
  kind: StringEnum(PART_KINDS),
  path: Type.String({ description: 'Absolute path of the directory tree' }),
  exclude: Type.Array(Type.String(), { description: 'restic exclude patterns; one starting with / is relative to path' }),
  include_coffer_data: Type.Optional(Type.Boolean({ description: COFFER_DATA })),
}, { $id: 'Part', additionalProperties: false, description: 'One part of an instance: a directory tree' });

export const Instance = Type.Object({
  name: Type.String(),
  description: Nullable(Type.String()),
  parts: Type.Array(Ref(Part)),
  repository: Type.String({ description: 'Name of the instance\'s repository' }),
  created_at: DateTime(),
  updated_at: DateTime(),
}, { $id: 'Instance', additionalProperties: false, description: 'A named thing to back up' });

export const User = Type.Object({
  name: Type.String(),
  role: StringEnum(ROLES),
  has_password: Type.Boolean({ description: 'Whether the user can sign in with HTTP Basic' }),
  created_at: DateTime(),
}, { $id: 'User', additionalProperties: false, description: 'A user (never with a password hash)' });

export const ApiKey = Type.Object({
  id: Id('key'),
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart' }),
  label: Nullable(Type.String()),
  created_at: DateTime(),
  last_used_at: Nullable(DateTime()),
}, { $id: 'ApiKey', additionalProperties: false, description: 'An API key, without the key' });

export const NewApiKey = Type.Object({
  id: Id('key'),
  key: Type.String({ description: 'The key itself: shown this once, only its hash is kept' }),
  prefix: Type.String(),
  label: Nullable(Type.String()),
  created_at: DateTime(),
}, { $id: 'NewApiKey', additionalProperties: false, description: 'A new API key, with the key itself (shown once)' });

export const Repository = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  location: Type.String(),
  option_keys: Type.Array(Type.String(), { description: 'Names of its backend options; the values (credentials) are never shown' }),
  created_at: DateTime(),
}, { $id: 'Repository', additionalProperties: false, description: 'A restic-format repository (without its password)' });

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: DateTime(),
  actor: Type.String(),
  action: Type.String(),
  target: Nullable(Type.String()),
  detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
  ip: Nullable(Type.String()),
}, { $id: 'AuditEntry', additionalProperties: false, description: 'Who did what, when, from where' });

const EMAIL_ONLY = '(email channels; null for the others)';

export const NotificationChannel = Type.Object({
  id: Id('notification'),
  name: Type.String(),
  kind: StringEnum(NOTIFICATION_KINDS, { description: 'webhook (generic JSON), slack, discord or email (SMTP)' }),
  events: Type.Array(StringEnum(NOTIFICATION_EVENTS), { description: 'The events it receives' }),
  instance: Nullable(Type.String({ description: 'Only events of this instance; null: all' })),
  enabled: Type.Boolean(),
  url_set: Type.Boolean({ description: 'Whether a webhook URL is set (webhook, slack, discord). The URL is a credential and never shown' }),
  smtp_host: Nullable(Type.String({ description: `SMTP server ${EMAIL_ONLY}` })),
  smtp_port: Nullable(Type.Integer({ description: `SMTP port ${EMAIL_ONLY}` })),
  smtp_tls: Type.Unsafe<(typeof TLS_MODES)[number] | null>({ type: ['string', 'null'], enum: [...TLS_MODES, null], description: `starttls, tls (implicit) or none ${EMAIL_ONLY}` }),
  smtp_user: Nullable(Type.String({ description: `SMTP user; null: no sign-in ${EMAIL_ONLY}` })),
  smtp_password_set: Type.Boolean({ description: 'Whether an SMTP password is stored (never shown)' }),
  from: Nullable(Type.String({ description: `Sender address ${EMAIL_ONLY}` })),
  to: Nullable(Type.Array(Type.String(), { description: `Recipients ${EMAIL_ONLY}` })),
  created_at: DateTime(),
  updated_at: DateTime(),
}, { $id: 'NotificationChannel', additionalProperties: false, description: 'Where notifications go (never with its secrets)' });

export const NotificationDelivery = Type.Object({
  id: Id('delivery'),
  notification_id: Nullable(Id('notification')),
  schedule_id: Nullable(Id('schedule')),
  event: Type.String({ description: 'job.failed, job.succeeded, schedule.overdue, test, or a schedule\'s ping: ping.start, ping.success, ping.fail' }),
  summary: Type.String({ description: 'What the message says, in one line' }),
  status: StringEnum(DELIVERY_STATUSES, { description: 'pending (not sent yet, or waiting to be retried), delivered, failed (out of attempts)' }),
  attempts: Type.Integer({ minimum: 0, description: 'Attempts made so far' }),
  next_attempt_at: DateTime('When it is (or was) due to be tried'),
  last_error: Nullable(Type.String({ description: 'Why the last attempt failed' })),
  response_status: Nullable(Type.Integer({ description: 'The receiver\'s HTTP status (or SMTP reply code) of the last attempt' })),
  created_at: DateTime(),
  updated_at: DateTime(),
  delivered_at: Nullable(DateTime()),
}, { $id: 'NotificationDelivery', additionalProperties: false, description: 'One message to one receiver, with its attempts' });

/** Every shared schema, in an order where each comes after those it refers to. */
export const SHARED_SCHEMAS: readonly TSchema[] = [ErrorBody, Backup, BackupCreated, Progress, RestoreJob, Job, Schedule, Part, Instance, User, ApiKey, NewApiKey, Repository, AuditEntry, NotificationChannel, NotificationDelivery];

/** `limit`/`offset` of every listing. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Items per page (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT})` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Items to skip' })),
};

/** The `X-Total-Count` header of listings. */
export const TOTAL_COUNT = { 'X-Total-Count': { type: 'integer', description: 'Items matching the filters, over all pages' } };
