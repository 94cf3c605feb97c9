/**
 * Turns what happens into queued deliveries: a job's end (to the channels that want its event and
 * instance, and a scheduled backup's Healthchecks ping), a scheduled backup's start (its `/start`
 * ping), an overdue schedule. Every delivery has a key naming its event, subject and target, so
 * the same thing seen twice (two processes, a repeated event) is queued once.
 */
import type { Catalog, Job, NotificationEvent, Schedule } from '../../catalog/index.js';
import { isTerminal } from '../../catalog/index.js';
import type { Logger } from '../logger.js';
import type { PingEvent } from './channels/healthchecks.js';
import { type NotificationMessage, eventOfJob, jobMessage, overdueMessage, textOf } from './message.js';

export class Notifier {
  /** Start pings already queued by this process, by `job:attempt` (progress events repeat the running state). */
  private readonly started = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly server: string,
    /** Asks the local dispatcher (if this process has one) to look for work now. */
    private readonly wake: () => void,
    private readonly logger: Logger,
  ) {}

  /** For the job event bus: cheap for progress updates, a catalog write only on a start or an end. */
  observe(job: Job): void {
    const attempt = `${job.id}:${job.attempts}`;
    if (job.state === 'running' && job.kind === 'backup' && job.scheduleId !== null && !this.started.has(attempt)) {
      this.started.add(attempt);
      void this.pingStart(job).catch((err: unknown) => this.logger.error({ err }, `job ${job.id}: queueing its start ping failed`));
    } else if (isTerminal(job.state)) {
      for (const key of this.started) if (key.startsWith(`${job.id}:`)) this.started.delete(key);
      void this.jobEnded(job).catch((err: unknown) => this.logger.error({ err }, `job ${job.id}: queueing its notifications failed`));
    }
  }

  private async instanceName(job: Job): Promise<string> {
    return (await this.catalog.instances.byId(job.instanceId))?.name ?? String(job.instanceId);
  }

  private async pingStart(job: Job): Promise<void> {
    const s = await this.catalog.schedules.get(job.scheduleId!);
    if (!s?.pingUrlSealed) return;
    const m = jobMessage('job.succeeded', job, s.instance, this.server);
    const started: NotificationMessage = { ...m, summary: `Coffer on ${this.server}: backup job-${job.id} of instance ${s.instance} started (schedule-${s.id})` };
    await this.ping(s, 'ping.start', `job-${job.id}:attempt-${job.attempts}`, started);
  }

  async jobEnded(job: Job): Promise<void> {
    const event = eventOfJob(job);
    if (!event) return;
    const instance = await this.instanceName(job);
    const m = jobMessage(event, job, instance, this.server);
    let queued = await this.toChannels(event, instance, job.scheduleId, `job-${job.id}`, m);
    if (job.kind === 'backup' && job.scheduleId !== null) {
      const s = await this.catalog.schedules.get(job.scheduleId);
      if (s?.pingUrlSealed) queued = (await this.ping(s, event === 'job.failed' ? 'ping.fail' : 'ping.success', `job-${job.id}`, m)) || queued;
    }
    if (queued) this.wake();
  }

  async scheduleOverdue(s: Schedule, expectedAt: string, graceSeconds: number): Promise<void> {
    const m = overdueMessage(s, expectedAt, graceSeconds, this.server);
    let queued = await this.toChannels('schedule.overdue', s.instance, s.id, `schedule-${s.id}:${expectedAt}`, m);
    // Healthchecks judges lateness itself; a missed run is still worth a fail ping with the reason.
    if (s.pingUrlSealed) queued = (await this.ping(s, 'ping.fail', `overdue:${expectedAt}`, m)) || queued;
    if (queued) this.wake();
    this.logger.warn({ schedule_id: s.id, expected_at: expectedAt }, textOf(m).split('\n')[0]!);
  }

  private async toChannels(event: NotificationEvent, instance: string, scheduleId: number | null, subject: string, m: NotificationMessage): Promise<boolean> {
    let queued = false;
    for (const c of await this.catalog.notifications.channels()) {
      if (!c.enabled || !c.events.includes(event) || (c.instance !== null && c.instance !== instance)) continue;
      queued = (await this.catalog.notifications.enqueue({ channelId: c.id, scheduleId, event, dedupeKey: `${event}:${subject}:channel-${c.id}`, message: { ...m } })) || queued;
    }
    return queued;
  }

  private ping(s: Schedule, event: PingEvent, subject: string, m: NotificationMessage): Promise<boolean> {
    return this.catalog.notifications.enqueue({ channelId: null, scheduleId: s.id, event, dedupeKey: `${event}:${subject}:schedule-${s.id}`, message: { ...m } });
  }
}
