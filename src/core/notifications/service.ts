/**
 * Notification channels as admins manage them (every call checked against the role matrix and
 * audited), their deliveries, and test messages. Views never carry a secret: `urlSet` and
 * `passwordSet` say whether one is stored.
 */
import { randomBytes } from 'node:crypto';
import { type DeliveryStatus, type NotificationChannel, type NotificationDelivery, type Page, UniqueViolation, nowIso } from '../../catalog/index.js';
import type { Catalog } from '../../catalog/index.js';
import type { AuditLog } from '../audit.js';
import { CoreError, conflict, notFound } from '../errors.js';
import { type Actor, requirePermission } from '../permissions.js';
import type { ServerSecret } from '../secrets.js';
import { type ChannelSecrets, checkChannel } from './channel-input.js';
import { DeliveryError } from './channels/http.js';
import { testMessage } from './message.js';
import type { Sender } from './sender.js';

export type ChannelView = Omit<NotificationChannel, 'secretSealed'> & { urlSet: boolean; passwordSet: boolean };

export class NotificationService {
  constructor(
    private readonly catalog: Catalog,
    private readonly secret: ServerSecret,
    private readonly sender: Sender,
    private readonly audit: AuditLog,
    private readonly server: string,
    /** Asks the local dispatcher (if this process has one) to look for work now. */
    private readonly wake: () => void,
  ) {}

  async list(actor: Actor): Promise<ChannelView[]> {
    requirePermission(actor, 'notification.read');
    return (await this.catalog.notifications.channels()).map((c) => this.view(c));
  }

  async get(actor: Actor, id: number): Promise<ChannelView> {
    requirePermission(actor, 'notification.read');
    return this.view(await this.channel(id));
  }

  async create(actor: Actor, body: Record<string, unknown>): Promise<ChannelView> {
    requirePermission(actor, 'notification.write');
    const c = checkChannel(body, undefined);
    await this.checkInstance(c.instance);
    try {
      const made = await this.catalog.notifications.createChannel({ ...c, secretSealed: this.seal(c.secrets) });
      await this.audit.record(actor, 'notification.create', `notification:${made.name}`, { kind: made.kind, events: made.events });
      return this.view(made);
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`notification channel ${c.name} already exists`);
      throw err;
    }
  }

  /** PUT: the fields given replace the channel's; the others (its secrets included) stay. */
  async update(actor: Actor, id: number, body: Record<string, unknown>): Promise<ChannelView> {
    requirePermission(actor, 'notification.write');
    const old = await this.channel(id);
    const c = checkChannel(body, { channel: old, secrets: this.sender.secretsOf(old) });
    if (c.instance !== old.instance) await this.checkInstance(c.instance);
    try {
      const next = await this.catalog.notifications.replaceChannel(id, { ...c, secretSealed: this.seal(c.secrets) });
      if (!next) throw notFound(`notification channel ${id}`);
      await this.audit.record(actor, 'notification.update', `notification:${next.name}`, { events: next.events, enabled: next.enabled, fields: Object.keys(body).sort() });
      return this.view(next);
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`notification channel ${c.name} already exists`);
      throw err;
    }
  }

  /** Deletes the channel and its deliveries. */
  async remove(actor: Actor, id: number): Promise<void> {
    requirePermission(actor, 'notification.write');
    const c = await this.channel(id);
    await this.catalog.notifications.removeChannel(id);
    await this.audit.record(actor, 'notification.delete', `notification:${c.name}`);
  }

  /**
   * Sends a test message now and records it as a delivery (not retried: the caller sees the
   * outcome at once). Answers the delivery; a receiver's refusal is its `lastError`, not an error.
   */
  async test(actor: Actor, id: number): Promise<NotificationDelivery> {
    requirePermission(actor, 'notification.write');
    const c = await this.channel(id);
    const message = testMessage(c.name, this.server, nowIso());
    const key = `test:channel-${c.id}:${randomBytes(8).toString('hex')}`;
    let outcome: { status: DeliveryStatus; responseStatus: number | null; error: string | null };
    try {
      const r = await this.sender.send({ channelId: c.id, scheduleId: null, event: 'test' }, message);
      outcome = { status: 'delivered', responseStatus: r.status, error: null };
    } catch (err) {
      outcome = { status: 'failed', responseStatus: err instanceof DeliveryError ? err.status : null, error: (err as Error).message };
    }
    const d = await this.catalog.notifications.recordSent({ channelId: c.id, scheduleId: null, event: 'test', dedupeKey: key, message: { ...message } }, outcome);
    await this.audit.record(actor, 'notification.test', `notification:${c.name}`, { status: outcome.status });
    return d;
  }

  async deliveries(actor: Actor, f: { status?: DeliveryStatus; channelId?: number; scheduleId?: number; limit: number; offset: number }): Promise<Page<NotificationDelivery>> {
    requirePermission(actor, 'notification.read');
    if (f.channelId !== undefined) await this.channel(f.channelId);
    return this.catalog.notifications.deliveries(f);
  }

  /** A failed delivery queued again with a fresh count of attempts. */
  async retry(actor: Actor, deliveryId: number): Promise<NotificationDelivery> {
    requirePermission(actor, 'notification.write');
    const d = await this.catalog.notifications.delivery(deliveryId);
    if (!d) throw notFound(`delivery ${deliveryId}`);
    if (!(await this.catalog.notifications.retry(deliveryId))) throw conflict(`delivery ${deliveryId} is ${d.status}: only a failed delivery is retried`);
    await this.audit.record(actor, 'notification.retry', `delivery:${deliveryId}`, { event: d.event });
    this.wake();
    return (await this.catalog.notifications.delivery(deliveryId))!;
  }

  private async channel(id: number): Promise<NotificationChannel> {
    const c = await this.catalog.notifications.channel(id);
    if (!c) throw notFound(`notification channel ${id}`);
    return c;
  }

  private async checkInstance(name: string | null): Promise<void> {
    if (name !== null && !(await this.catalog.instances.byName(name))) throw new CoreError('not_found', `instance ${name} not found`, 'instance');
  }

  private seal(s: ChannelSecrets): string | null {
    return Object.keys(s).length > 0 ? this.secret.seal(JSON.stringify(s)) : null;
  }

  private view(c: NotificationChannel): ChannelView {
    const { secretSealed: _sealed, ...rest } = c;
    const s = this.sender.secretsOf(c);
    return { ...rest, urlSet: typeof s.url === 'string', passwordSet: typeof s.password === 'string' };
  }
}
