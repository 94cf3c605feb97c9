/**
 * Sends one message to one target: a channel (its secrets opened from their seal only for the
 * send) or a schedule's Healthchecks ping URL. Errors it reports never repeat a secret.
 */
import type { Catalog, NotificationChannel } from '../../catalog/index.js';
import type { ServerSecret } from '../secrets.js';
import type { ChannelSecrets } from './channel-input.js';
import { type EmailSettings, sendEmail } from './channels/email.js';
import { isPingEvent, sendPing } from './channels/healthchecks.js';
import { DeliveryError, type SendResult } from './channels/http.js';
import { sendWebhook } from './channels/chat.js';
import type { NotificationMessage } from './message.js';

export interface Target {
  channelId: number | null;
  scheduleId: number | null;
  event: string;
}

export class Sender {
  constructor(private readonly catalog: Catalog, private readonly secret: ServerSecret) {}

  secretsOf(c: NotificationChannel): ChannelSecrets {
    return c.secretSealed ? (JSON.parse(this.secret.open(c.secretSealed)) as ChannelSecrets) : {};
  }

  /** Sends `m`; throws DeliveryError (with the receiver's status, when it answered) when it did not arrive. */
  async send(t: Target, m: NotificationMessage): Promise<SendResult> {
    const secrets: string[] = [];
    try {
      return await this.sendTo(t, m, secrets);
    } catch (err) {
      const status = err instanceof DeliveryError ? err.status : null;
      throw new DeliveryError(redact((err as Error).message ?? String(err), secrets), status);
    }
  }

  private async sendTo(t: Target, m: NotificationMessage, secrets: string[]): Promise<SendResult> {
    if (t.channelId === null) {
      if (t.scheduleId === null || !isPingEvent(t.event)) throw new DeliveryError(`a delivery of ${t.event} has no target`, null);
      const s = await this.catalog.schedules.get(t.scheduleId);
      if (!s) throw new DeliveryError(`schedule-${t.scheduleId} no longer exists`, null);
      if (!s.pingUrlSealed) throw new DeliveryError(`schedule-${t.scheduleId} has no ping URL any more`, null);
      const url = this.secret.open(s.pingUrlSealed);
      secrets.push(url);
      return sendPing(url, t.event, m);
    }
    const c = await this.catalog.notifications.channel(t.channelId);
    if (!c) throw new DeliveryError(`notification channel ${t.channelId} no longer exists`, null);
    const open = this.secretsOf(c);
    secrets.push(...[open.url, open.password].filter((v): v is string => typeof v === 'string' && v !== ''));
    if (c.kind === 'email') return sendEmail(c.settings as unknown as EmailSettings, open.password ?? null, m);
    if (!open.url) throw new DeliveryError(`notification channel ${c.name} has no URL`, null);
    return sendWebhook(c.kind, open.url, m);
  }
}

/** `text` with every secret (and a URL's path and query, which is where webhook tokens live) cut out. */
function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s).join('<secret>');
    try {
      const u = new URL(s);
      if (u.pathname.length > 1) out = out.split(u.pathname).join('/<secret>');
    } catch {
      // not a URL: a password, already cut out
    }
  }
  return out;
}
