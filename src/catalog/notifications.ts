import { type Kysely, type Selectable, sql } from 'kysely';
import type { CatalogCapabilities } from './dialects/opened.js';
import { rethrowUnique } from './errors.js';
import { parseJson } from './json.js';
import type { Database, NotificationChannelsTable, NotificationDeliveriesTable } from './schema.js';
import {
  type DeliveryStatus, type NotificationChannel, type NotificationDelivery, type NotificationEvent, type NotificationKind, type Page, nowIso,
} from './types.js';

function toChannel(r: Selectable<NotificationChannelsTable>): NotificationChannel {
  return {
    id: r.id, name: r.name, kind: r.kind as NotificationKind, events: parseJson<NotificationEvent[]>(r.events, []), instance: r.instance,
    enabled: r.enabled === 1, settings: parseJson<Record<string, unknown>>(r.settings, {}), secretSealed: r.secret_sealed,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

function toDelivery(r: Selectable<NotificationDeliveriesTable>): NotificationDelivery {
  return {
    id: r.id, channelId: r.channel_id, scheduleId: r.schedule_id, event: r.event, message: parseJson<Record<string, unknown>>(r.message, {}),
    status: r.status as DeliveryStatus, attempts: Number(r.attempts), nextAttemptAt: r.next_attempt_at, lastError: r.last_error,
    responseStatus: r.response_status, createdAt: r.created_at, updatedAt: r.updated_at, deliveredAt: r.delivered_at,
  };
}

export type ChannelInput = Omit<NotificationChannel, 'id' | 'createdAt' | 'updatedAt'>;

export interface NewDelivery {
  channelId: number | null;
  scheduleId: number | null;
  event: string;
  /** One message per key: a second enqueue of the same key is ignored. */
  dedupeKey: string;
  message: Record<string, unknown>;
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  channelId?: number;
  scheduleId?: number;
  limit: number;
  offset: number;
}

export class NotificationStore {
  constructor(private readonly db: Kysely<Database>, private readonly caps: CatalogCapabilities) {}

  async createChannel(c: ChannelInput): Promise<NotificationChannel> {
    const now = nowIso();
    return toChannel(await rethrowUnique(this.db.insertInto('notification_channels').values({ ...channelColumns(c), created_at: now, updated_at: now })
      .returningAll().executeTakeFirstOrThrow()));
  }

  async replaceChannel(id: number, c: ChannelInput): Promise<NotificationChannel | undefined> {
    const r = await rethrowUnique(this.db.updateTable('notification_channels').set({ ...channelColumns(c), updated_at: nowIso() }).where('id', '=', id)
      .returningAll().executeTakeFirst());
    return r && toChannel(r);
  }

  async channel(id: number): Promise<NotificationChannel | undefined> {
    const r = await this.db.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toChannel(r);
  }

  async channels(): Promise<NotificationChannel[]> {
    return (await this.db.selectFrom('notification_channels').selectAll().orderBy('id').execute()).map(toChannel);
  }

  async removeChannel(id: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('notification_deliveries').where('channel_id', '=', id).execute();
      const r = await tx.deleteFrom('notification_channels').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Queues a message, due now; false when one with the same key exists (it was queued before). */
  async enqueue(d: NewDelivery): Promise<boolean> {
    const now = nowIso();
    const r = await this.db.insertInto('notification_deliveries').values({
      channel_id: d.channelId, schedule_id: d.scheduleId, event: d.event, dedupe_key: d.dedupeKey, message: JSON.stringify(d.message),
      status: 'pending', next_attempt_at: now, claimed_by: null, claimed_until: null, last_error: null, response_status: null,
      created_at: now, updated_at: now, delivered_at: null,
    }).onConflict((oc) => oc.column('dedupe_key').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Records a message sent at once (a test), with its outcome. */
  async recordSent(d: NewDelivery, o: { status: DeliveryStatus; responseStatus: number | null; error: string | null }): Promise<NotificationDelivery> {
    const now = nowIso();
    return toDelivery(await this.db.insertInto('notification_deliveries').values({
      channel_id: d.channelId, schedule_id: d.scheduleId, event: d.event, dedupe_key: d.dedupeKey, message: JSON.stringify(d.message),
      status: o.status, attempts: 1, next_attempt_at: now, claimed_by: null, claimed_until: null, last_error: o.error, response_status: o.responseStatus,
      created_at: now, updated_at: now, delivered_at: o.status === 'delivered' ? now : null,
    }).returningAll().executeTakeFirstOrThrow());
  }

  /**
   * Takes the oldest due delivery for `worker` until `until`, counting the attempt; undefined when
   * none is due. One atomic UPDATE (on PostgreSQL picking the row with SKIP LOCKED), so of several
   * processes sharing the catalog exactly one sends each attempt; a claim whose process died
   * lapses at `claimed_until`.
   */
  async claim(worker: string, until: string): Promise<NotificationDelivery | undefined> {
    const now = nowIso();
    const due = (q: ReturnType<typeof this.pending>) => q.where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]));
    let pick = due(this.pending()).select('id').orderBy('next_attempt_at').orderBy('id').limit(1);
    if (this.caps.skipLocked) pick = pick.forUpdate().skipLocked();
    const row = await this.db.updateTable('notification_deliveries')
      .set({ claimed_by: worker, claimed_until: until, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', '=', (eb) => eb.selectFrom(pick.as('next')).select('next.id'))
      .where('status', '=', 'pending').where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
      .returningAll().executeTakeFirst();
    return row && toDelivery(row);
  }

  private pending() {
    return this.db.selectFrom('notification_deliveries').where('status', '=', 'pending');
  }

  /** Ends `worker`'s claim with the attempt's outcome: delivered, failed for good, or pending again at `nextAttemptAt`. */
  async settle(id: number, worker: string, o: { status: DeliveryStatus; responseStatus: number | null; error: string | null; nextAttemptAt?: string }): Promise<void> {
    const now = nowIso();
    await this.db.updateTable('notification_deliveries').set({
      status: o.status, response_status: o.responseStatus, last_error: o.error, claimed_by: null, claimed_until: null, updated_at: now,
      ...(o.status === 'delivered' ? { delivered_at: now } : {}), ...(o.nextAttemptAt ? { next_attempt_at: o.nextAttemptAt } : {}),
    }).where('id', '=', id).where('claimed_by', '=', worker).execute();
  }

  /** A failed delivery pending again, with a fresh count of attempts; false unless it had failed. */
  async retry(id: number): Promise<boolean> {
    const now = nowIso();
    const r = await this.db.updateTable('notification_deliveries').set({ status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now })
      .where('id', '=', id).where('status', '=', 'failed').executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async delivery(id: number): Promise<NotificationDelivery | undefined> {
    const r = await this.db.selectFrom('notification_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toDelivery(r);
  }

  /** Newest first. */
  async deliveries(f: DeliveryFilter): Promise<Page<NotificationDelivery>> {
    let q = this.db.selectFrom('notification_deliveries');
    if (f.status) q = q.where('status', '=', f.status);
    if (f.channelId !== undefined) q = q.where('channel_id', '=', f.channelId);
    if (f.scheduleId !== undefined) q = q.where('schedule_id', '=', f.scheduleId);
    const total = Number((await q.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const rows = await q.selectAll().orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute();
    return { total, items: rows.map(toDelivery) };
  }
}

function channelColumns(c: ChannelInput) {
  return {
    name: c.name, kind: c.kind, events: JSON.stringify(c.events), instance: c.instance, enabled: c.enabled ? 1 : 0,
    settings: JSON.stringify(c.settings), secret_sealed: c.secretSealed,
  };
}
