/**
 * Fires due schedules. Every tick it asks the catalog for schedules whose `next_run_at` has come,
 * moves each on to its next run with a compare-and-set (so exactly one process fires it, however
 * many share the catalog) and starts the backup. A run missed while the server was down is due at
 * start-up and fires once; a run that finds the previous one still going is skipped with a reason,
 * never queued twice (the catalog's unique index says so). Every few seconds it also checks for
 * schedules whose run did not succeed in time (see overdue.ts).
 */
import type { Catalog, Schedule } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import type { BackupService } from './backups.js';
import { CoreError } from './errors.js';
import type { Logger } from './logger.js';
import type { OverdueCheck } from './overdue.js';
import { SYSTEM_ACTOR } from './permissions.js';
import { nextRun } from './schedules.js';

/** How often schedules are checked for overdue runs: grace periods are minutes, not milliseconds. */
const OVERDUE_CHECK_MS = 5_000;

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly backups: BackupService,
    private readonly audit: AuditLog,
    private readonly logger: Logger,
    private readonly tickMs = 500,
    private readonly overdue?: OverdueCheck,
    private readonly overdueEveryMs = OVERDUE_CHECK_MS,
  ) {}

  private lastOverdueCheck = 0;

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(now = new Date()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const s of await this.catalog.schedules.due(now.toISOString())) await this.fire(s, now);
      if (this.overdue && now.getTime() - this.lastOverdueCheck >= this.overdueEveryMs) {
        this.lastOverdueCheck = now.getTime();
        await this.overdue.check(now);
      }
    } catch (err) {
      this.logger.error({ err }, 'scheduler tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async fire(s: Schedule, now: Date): Promise<void> {
    let next: string | null = null;
    try {
      next = nextRun(s.cron, s.timezone, now)?.toISOString() ?? null;
    } catch (err) {
      this.logger.error({ schedule_id: s.id, instance: s.instance, cron: s.cron, error: (err as Error).message }, `schedule ${s.id}: ${(err as Error).message}; disabled until it is fixed`);
    }
    if (!(await this.catalog.schedules.advance(s.id, s.nextRunAt!, next, now.toISOString()))) return; // another process fired it
    try {
      const { backup } = await this.backups.create(SYSTEM_ACTOR, { instance: s.instance, type: s.type, scheduleId: s.id, ...(s.label ? { label: s.label } : {}) });
      await this.catalog.schedules.setResult(s.id, `started backup ${backup.id}`);
      this.logger.info({ schedule_id: s.id, instance: s.instance, backup_id: backup.id, next_run_at: next }, `schedule ${s.id} fired: backup ${backup.id} of ${s.instance}`);
    } catch (err) {
      const reason = err instanceof CoreError && err.code === 'conflict' ? 'skipped: the previous run of this schedule is still going' : `failed to start: ${(err as Error).message}`;
      await this.catalog.schedules.setResult(s.id, reason);
      await this.audit.record(SYSTEM_ACTOR, 'schedule.skip', `schedule:${s.id}`, { reason });
      // Skipped or refused (a quota, a missing repository) is the operator's to see; anything else is a fault.
      const fields = { schedule_id: s.id, instance: s.instance, reason, next_run_at: next };
      if (err instanceof CoreError) this.logger.warn(fields, `schedule ${s.id} of ${s.instance} ${reason}`);
      else this.logger.error({ ...fields, err }, `schedule ${s.id} of ${s.instance} ${reason}`);
    }
  }
}
