/**
 * Sends queued deliveries, in processes that run jobs. Each attempt is claimed in the catalog
 * (one process per attempt, however many share it); a failed attempt is tried again after
 * `baseDelayMs` · 2^(attempts − 1), until `maxAttempts` have failed, when the delivery is `failed`
 * (visible with its last error, and retried again on request).
 */
import { SerialPass } from '../serial-pass.js';
import { hostname } from 'node:os';
import type { Catalog, NotificationDelivery } from '../../catalog/index.js';
import type { Logger } from '../logger.js';
import { DeliveryError } from './channels/http.js';
import type { NotificationMessage } from './message.js';
import type { Sender } from './sender.js';

export interface RetryOptions {
  /** Delay before the second attempt; each further one doubles it. */
  baseDelayMs: number;
  /** Attempts before a delivery is failed. */
  maxAttempts: number;
}

/** Eight attempts over about two hours. */
export const DEFAULT_RETRY: RetryOptions = { baseDelayMs: 60_000, maxAttempts: 8 };
/** Sends at once; more wait for the next free slot. */
const CONCURRENCY = 4;
/** How long a claim holds: far longer than one send may take, so that only a dead process loses it. */
const CLAIM_MS = 120_000;
const POLL_MS = 1_000;

export class Dispatcher {
  private readonly worker = `${hostname()}:${process.pid}:${Date.now().toString(36)}:notify`;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly passes = new SerialPass(() => this.pump(), (err: unknown) => this.logger.error({ err }, 'looking for notifications to send failed'));

  constructor(
    private readonly catalog: Catalog,
    private readonly sender: Sender,
    private readonly retry: RetryOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), Math.min(POLL_MS, this.retry.baseDelayMs));
    this.timer.unref();
    this.wake();
  }

  /** Look for due deliveries now (after one was queued in this process). */
  wake(): void {
    this.passes.wake();
  }


  private async pump(): Promise<void> {
    while (!this.stopping && this.inFlight.size < CONCURRENCY) {
      const d = await this.catalog.notifications.claim(this.worker, new Date(Date.now() + CLAIM_MS).toISOString());
      if (!d) return;
      const sending = this.attempt(d).catch((err: unknown) => this.logger.error({ err }, `notification delivery ${d.id}: recording its outcome failed`));
      this.inFlight.add(sending);
      void sending.finally(() => {
        this.inFlight.delete(sending);
        this.wake();
      });
    }
  }

  private async attempt(d: NotificationDelivery): Promise<void> {
    try {
      const r = await this.sender.send(d, d.message as unknown as NotificationMessage);
      await this.catalog.notifications.settle(d.id, this.worker, { status: 'delivered', responseStatus: r.status, error: null });
    } catch (err) {
      const status = err instanceof DeliveryError ? err.status : null;
      const error = (err as Error).message ?? String(err);
      if (d.attempts >= this.retry.maxAttempts) {
        this.logger.error({ delivery_id: d.id, event: d.event, attempts: d.attempts, error }, `notification delivery ${d.id} (${d.event}) failed after ${d.attempts} attempts: ${error}`);
        await this.catalog.notifications.settle(d.id, this.worker, { status: 'failed', responseStatus: status, error });
        return;
      }
      const next = new Date(Date.now() + this.retry.baseDelayMs * 2 ** (d.attempts - 1)).toISOString();
      this.logger.warn({ delivery_id: d.id, event: d.event, attempts: d.attempts, next_attempt_at: next, error }, `notification delivery ${d.id} (${d.event}) failed; trying again at ${next}: ${error}`);
      await this.catalog.notifications.settle(d.id, this.worker, { status: 'pending', responseStatus: status, error, nextAttemptAt: next });
    }
  }

  /** Stops claiming and waits (boundedly) for the sends under way. */
  async stop(timeoutMs = 20_000): Promise<void> {
    this.stopping = true;
    this.passes.stop();
    clearInterval(this.timer);
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}
