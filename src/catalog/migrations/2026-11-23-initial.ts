/** The first schema. Frozen: later changes are new migrations. Untyped `Kysely<any>` on purpose (it must keep compiling as the types move on). */
import { type Kysely, sql } from 'kysely';
import type { DdlFlavour } from './flavour.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>, f: DdlFlavour): Promise<void> {
  const id = f.autoIdType;
  await db.schema.createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('users')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('api_keys')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .execute();

  await db.schema.createTable('repositories')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('password_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('instances')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('parts', 'text', (c) => c.notNull())
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('schedules')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('retention_days', 'integer')
    .addColumn('keep_last', 'integer')
    .addColumn('keep_hourly', 'integer')
    .addColumn('keep_daily', 'integer')
    .addColumn('keep_weekly', 'integer')
    .addColumn('keep_monthly', 'integer')
    .addColumn('keep_yearly', 'integer')
    .addColumn('label', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_run_at', 'text')
    .addColumn('next_run_at', 'text')
    .addColumn('last_result', 'text')
    .execute();

  await db.schema.createTable('backups')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id'))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('label', 'text')
    .addColumn('description', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_info', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('backup_time', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_added', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('files', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('snapshot_id', 'text')
    .addColumn('parent_id', 'integer')
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('serial', 'text', (c) => c.notNull())
    .addColumn('sw_version', 'text', (c) => c.notNull())
    .addColumn('query_args', 'text')
    .addColumn('include_files', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('include_database', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_by', 'text')
    .addColumn('schedule_id', 'integer')
    .addColumn('extra', 'text')
    .execute();
  await db.schema.createIndex('backups_instance_created').on('backups').columns(['instance_id', 'created_at']).execute();
  await db.schema.createIndex('backups_created').on('backups').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('backups_created_by').on('backups').column('created_by').execute();

  await db.schema.createTable('jobs')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'integer', (c) => c.notNull())
    .addColumn('backup_id', 'integer')
    .addColumn('schedule_id', 'integer')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('progress', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('worker', 'text')
    .addColumn('heartbeat_at', 'text')
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('jobs_state').on('jobs').columns(['state', 'id']).execute();
  // The rules "one restore per instance at a time" and "a schedule never runs twice at once" live
  // here, as partial unique indexes, so that two requests in the same millisecond, or two server
  // processes sharing PostgreSQL, cannot both win.
  await sql`CREATE UNIQUE INDEX jobs_one_restore_per_instance ON jobs (instance_id) WHERE kind = 'restore' AND state IN ('scheduled', 'running')`.execute(db);
  await sql`CREATE UNIQUE INDEX jobs_one_run_per_schedule ON jobs (schedule_id) WHERE kind = 'backup' AND schedule_id IS NOT NULL AND state IN ('scheduled', 'running', 'uploading')`.execute(db);
  // Retention (forget + prune) takes the repository's exclusive lock: one at a time per instance.
  await sql`CREATE UNIQUE INDEX jobs_one_retention_per_instance ON jobs (instance_id) WHERE kind = 'retention' AND state IN ('scheduled', 'running')`.execute(db);

  await db.schema.createTable('audit_log')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('detail', 'text')
    .addColumn('ip', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
}
