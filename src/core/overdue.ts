/**
 * The overdue check of schedules: a schedule is overdue when its latest expected run (the last
 * time its cron fired, at least a grace period ago) has no successful backup made at or after
 * that time. Each missed run is reported once: the expected time is claimed in the catalog with a
 * compare and set before anything is queued, so neither later checks nor other processes report
 * it again. Runs expected before the schedule existed, or before it was last enabled or given
 * another time, are not judged.
 */
import { Cron } from 'croner';
import type { Catalog, Schedule } from '../catalog/index.js';

/** Grace of a schedule that names none: a run may take this long to succeed. */
export const DEFAULT_OVERDUE_GRACE_SECONDS = 3600;

export class OverdueCheck {
  constructor(
    private readonly catalog: Catalog,
    private readonly report: (s: Schedule, expectedAt: string, graceSeconds: number) => Promise<void>,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {}

  async check(now = new Date()): Promise<void> {
    for (const s of await this.catalog.schedules.enabled()) {
      try {
        await this.checkOne(s, now);
      } catch (err) {
        this.log(`schedule ${s.id}: overdue check failed`, err);
      }
    }
  }

  private async checkOne(s: Schedule, now: Date): Promise<void> {
    const grace = s.overdueGraceSeconds ?? DEFAULT_OVERDUE_GRACE_SECONDS;
    const expected = expectedRun(s, new Date(now.getTime() - grace * 1000));
    if (!expected || expected < s.createdAt) return;
    // Already reported, or expected before the schedule was last enabled or retimed.
    if (s.overdueReportedFor !== null && expected <= s.overdueReportedFor) return;
    if (await this.catalog.schedules.succeededSince(s.id, expected)) return;
    if (!(await this.catalog.schedules.claimOverdue(s.id, s.overdueReportedFor, expected))) return;
    await this.report(s, expected, grace);
  }
}

/** The last time the schedule's cron fired at or before `before`; undefined when it never did (or the expression is bad). */
function expectedRun(s: Schedule, before: Date): string | undefined {
  try {
    const job = new Cron(s.cron, { paused: true, ...(s.timezone ? { timezone: s.timezone } : {}) });
    const [last] = job.previousRuns(1, before);
    job.stop();
    return last?.toISOString();
  } catch {
    return undefined;
  }
}
