/**
 * The catalog's tables, in types: the only description of the schema (migrations create it).
 *
 * Conventions that keep one schema working on SQLite and PostgreSQL alike:
 * - times are ISO-8601 UTC strings with milliseconds (`2026-11-23T19:06:01.123Z`), which sort and
 *   compare as text in both databases;
 * - booleans are integers 0/1 (SQLite has no boolean type);
 * - JSON documents are text, parsed by the store that owns the table;
 * - byte counts are BIGINT on PostgreSQL, parsed to numbers by the driver setup.
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  name: string;
  role: string;
  /** argon2id PHC string; null for a user that signs in with API keys only. */
  password_hash: string | null;
  created_at: string;
}

export interface ApiKeysTable {
  id: Generated<number>;
  user_id: number;
  /** The key's first characters, shown in lists so a user can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole key, hex: keys are 256 random bits, so a slow hash adds nothing. */
  key_hash: string;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  location: string;
  /** The repository password, sealed under the server secret (see core/secrets). */
  password_sealed: string;
  /** Backend options (credentials among them) as JSON, sealed under the server secret; null: none. */
  options_sealed: string | null;
  created_at: string;
}

export interface InstancesTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  /** JSON array of parts. */
  parts: string;
  repository_id: number;
  created_at: string;
  updated_at: string;
}

export interface BackupsTable {
  id: Generated<number>;
  instance_id: number;
  repository_id: number;
  /** `full` (every part) or `partial` (Syncano's query_args selects parts and items). */
  scope: string;
  type: string;
  label: string | null;
  description: string | null;
  status: string;
  status_info: string | null;
  created_at: string;
  updated_at: string;
  backup_time: string | null;
  size: number;
  bytes_added: number;
  files: number;
  snapshot_id: string | null;
  parent_id: number | null;
  hostname: string;
  model: string;
  serial: string;
  sw_version: string;
  /** JSON, for partial backups. */
  query_args: string | null;
  include_files: number;
  include_database: number;
  created_by: string | null;
  schedule_id: number | null;
  /** JSON object of adapter-owned extras (e.g. a Kanto correlation id). */
  extra: string | null;
}

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  state: string;
  /** The instance the job writes to (for a restore: its target), which the one-restore rule keys on. */
  instance_id: number;
  backup_id: number | null;
  schedule_id: number | null;
  /** JSON: what the job needs besides the ids (restore paths, retention policy…). */
  payload: string;
  /** JSON: files/bytes done and totals, rate, current state detail. */
  progress: string;
  error: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** `host:pid:boot` of the process running it; null while queued. */
  worker: string | null;
  heartbeat_at: string | null;
  cancel_requested: number;
  /** How many times a worker claimed the job. */
  attempts: Generated<number>;
  /** JSON list: why each attempt that was retried (or the last one) ended without a result. */
  attempt_errors: Generated<string>;
}

export interface SchedulesTable {
  id: Generated<number>;
  instance_id: number;
  cron: string;
  timezone: string | null;
  type: string;
  enabled: number;
  retention_days: number | null;
  keep_last: number | null;
  keep_hourly: number | null;
  keep_daily: number | null;
  keep_weekly: number | null;
  keep_monthly: number | null;
  keep_yearly: number | null;
  /** 1: retention counts uploaded backups too; 0 (default): it leaves them alone. */
  retention_includes_uploaded: Generated<number>;
  label: string | null;
  created_at: string;
  updated_at: string;
  last_run_at: string | null;
  /** The next time this schedule is due; claimed atomically so only one process fires it. */
  next_run_at: string | null;
  last_result: string | null;
  /** A Healthchecks-style ping URL, sealed under the server secret; null: none. */
  ping_url_sealed: string | null;
  /** How long after its expected time a run may succeed before the schedule is overdue; null: the server's default. */
  overdue_grace_seconds: number | null;
  /**
   * The expected run time last reported overdue (claimed with a compare and set, so once per missed
   * run), or the time the schedule was last enabled or retimed: runs expected up to it are not judged.
   */
  overdue_reported_for: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  /** JSON. */
  detail: string | null;
  ip: string | null;
}

export interface NotificationChannelsTable {
  id: Generated<number>;
  name: string;
  /** webhook, slack, discord or email. */
  kind: string;
  /** JSON list of the events it receives. */
  events: string;
  /** Only events of this instance (by name); null: all. */
  instance: string | null;
  enabled: number;
  /** JSON of the settings that are no secret (an SMTP host, port, sender, recipients). */
  settings: string;
  /** JSON of its secrets (a webhook URL, an SMTP password) sealed under the server secret; null: none. */
  secret_sealed: string | null;
  created_at: string;
  updated_at: string;
}

export interface NotificationDeliveriesTable {
  id: Generated<number>;
  /** The channel it goes to; null for a schedule's Healthchecks ping. */
  channel_id: number | null;
  /** The schedule whose ping URL it goes to (pings), or the schedule the event is about. */
  schedule_id: number | null;
  event: string;
  /** What makes it one message (event, subject, target): a second insert of the same is ignored. */
  dedupe_key: string;
  /** JSON of the message (never a secret). */
  message: string;
  /** pending, delivered or failed. */
  status: string;
  attempts: Generated<number>;
  next_attempt_at: string;
  /** The process sending it now, and until when its claim holds. */
  claimed_by: string | null;
  claimed_until: string | null;
  last_error: string | null;
  response_status: number | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

/** Per watched table, a number raised by triggers on every change (see the change-counters migration). */
export interface CatalogChangesTable {
  name: string;
  n: number;
}

export interface Database {
  catalog_changes: CatalogChangesTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  repositories: RepositoriesTable;
  instances: InstancesTable;
  backups: BackupsTable;
  jobs: JobsTable;
  schedules: SchedulesTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
  notification_channels: NotificationChannelsTable;
  notification_deliveries: NotificationDeliveriesTable;
}
