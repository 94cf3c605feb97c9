/**
 * Notifications: channels (webhook, Slack, Discord, email) with their secrets sealed under the
 * server secret; deliveries, one row per message to one target, retried until delivered or out of
 * attempts; per schedule a sealed Healthchecks ping URL, a grace period, and the expected run last
 * reported overdue (so a missed run is reported once).
 */
import { type Kysely, sql } from 'kysely';
import type { DdlFlavour } from './flavour.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>, f: DdlFlavour): Promise<void> {
  const id = f.autoIdType;
  await db.schema.createTable('notification_channels')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('instance', 'text')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('secret_sealed', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('notification_deliveries')
    .addColumn('id', id, (c) => f.autoId(c))
    .addColumn('channel_id', 'integer', (c) => c.references('notification_channels.id').onDelete('cascade'))
    .addColumn('schedule_id', 'integer', (c) => c.references('schedules.id').onDelete('cascade'))
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('response_status', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .execute();
  await db.schema.createIndex('notification_deliveries_due').on('notification_deliveries').columns(['status', 'next_attempt_at']).execute();
  await sql`CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, id)`.execute(db);

  await db.schema.alterTable('schedules').addColumn('ping_url_sealed', 'text').execute();
  await db.schema.alterTable('schedules').addColumn('overdue_grace_seconds', 'integer').execute();
  await db.schema.alterTable('schedules').addColumn('overdue_reported_for', 'text').execute();
}
