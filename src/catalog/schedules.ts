import type { Kysely, Selectable } from 'kysely';
import type { Database, SchedulesTable } from './schema.js';
import { type BackupKind, type Schedule, nowIso } from './types.js';

export type ScheduleRow = Selectable<SchedulesTable> & { instance: string };

export function toSchedule(r: ScheduleRow): Schedule {
  return {
    id: r.id, instanceId: r.instance_id, instance: r.instance, cron: r.cron, timezone: r.timezone, type: r.type as BackupKind,
    enabled: r.enabled === 1, retentionDays: r.retention_days, keepLast: r.keep_last, keepHourly: r.keep_hourly,
    keepDaily: r.keep_daily, keepWeekly: r.keep_weekly, keepMonthly: r.keep_monthly, keepYearly: r.keep_yearly,
    retentionIncludesUploaded: r.retention_includes_uploaded === 1, label: r.label, createdAt: r.created_at, updatedAt: r.updated_at, lastRunAt: r.last_run_at, nextRunAt: r.next_run_at,
    lastResult: r.last_result, pingUrlSealed: r.ping_url_sealed, overdueGraceSeconds: r.overdue_grace_seconds, overdueReportedFor: r.overdue_reported_for,
  };
}

export interface ScheduleInput {
  instanceId: number;
  cron: string;
  timezone: string | null;
  type: BackupKind;
  enabled: boolean;
  retentionDays: number | null;
  keepLast: number | null;
  keepHourly: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
  keepYearly: number | null;
  /** Default false. */
  retentionIncludesUploaded?: boolean;
  label: string | null;
  nextRunAt: string | null;
  /** Default null (the server's default grace). */
  overdueGraceSeconds?: number | null;
}

/** The columns a schedule's settings are stored in (the configuration import writes them too). */
export function scheduleColumns(s: ScheduleInput) {
  return {
    instance_id: s.instanceId, cron: s.cron, timezone: s.timezone, type: s.type, enabled: s.enabled ? 1 : 0,
    retention_days: s.retentionDays, keep_last: s.keepLast, keep_hourly: s.keepHourly, keep_daily: s.keepDaily,
    keep_weekly: s.keepWeekly, keep_monthly: s.keepMonthly, keep_yearly: s.keepYearly,
    retention_includes_uploaded: s.retentionIncludesUploaded === true ? 1 : 0, label: s.label, next_run_at: s.nextRunAt,
    overdue_grace_seconds: s.overdueGraceSeconds ?? null,
  };
}

export class ScheduleStore {
  constructor(private readonly db: Kysely<Database>) {}

  private select() {
    return this.db.selectFrom('schedules').innerJoin('instances', 'instances.id', 'schedules.instance_id').selectAll('schedules').select('instances.name as instance');
  }

  async create(s: ScheduleInput): Promise<Schedule> {
    const now = nowIso();
    const { id } = await this.db.insertInto('schedules').values({ ...scheduleColumns(s), created_at: now, updated_at: now, last_run_at: null, last_result: null })
      .returning('id').executeTakeFirstOrThrow();
    return (await this.get(id))!;
  }

  async replace(id: number, s: ScheduleInput): Promise<Schedule | undefined> {
    await this.db.updateTable('schedules').set({ ...scheduleColumns(s), updated_at: nowIso() }).where('id', '=', id).execute();
    return this.get(id);
  }

  async get(id: number): Promise<Schedule | undefined> {
    const r = await this.select().where('schedules.id', '=', id).executeTakeFirst();
    return r && toSchedule(r);
  }

  async list(f: { instanceId?: number } = {}): Promise<Schedule[]> {
    let q = this.select();
    if (f.instanceId !== undefined) q = q.where('schedules.instance_id', '=', f.instanceId);
    return (await q.orderBy('schedules.id').execute()).map(toSchedule);
  }

  async remove(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('schedules').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Enabled schedules whose next run is at or before `now`. */
  async due(now: string): Promise<Schedule[]> {
    return (await this.select().where('schedules.enabled', '=', 1).where('schedules.next_run_at', '<=', now).orderBy('schedules.next_run_at').execute()).map(toSchedule);
  }

  /**
   * Moves a due schedule on to its next run, only if nobody else did first (compare and set on
   * `next_run_at`): the process that wins fires the run, so a run fires once however many
   * processes share the catalog.
   */
  async advance(id: number, expectedNext: string, next: string | null, firedAt: string): Promise<boolean> {
    const r = await this.db.updateTable('schedules').set({ next_run_at: next, last_run_at: firedAt, updated_at: nowIso() })
      .where('id', '=', id).where('next_run_at', '=', expectedNext).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async setNext(id: number, next: string | null): Promise<void> {
    await this.db.updateTable('schedules').set({ next_run_at: next }).where('id', '=', id).execute();
  }

  /** Seals in another ping URL (null: none). */
  async setPingUrl(id: number, sealed: string | null): Promise<void> {
    await this.db.updateTable('schedules').set({ ping_url_sealed: sealed, updated_at: nowIso() }).where('id', '=', id).execute();
  }

  /** Enabled schedules, for the overdue check. */
  async enabled(): Promise<Schedule[]> {
    return (await this.select().where('schedules.enabled', '=', 1).orderBy('schedules.id').execute()).map(toSchedule);
  }

  /**
   * Records that the run expected at `expected` was reported overdue, only if it was not yet (compare
   * and set on the previous value): of several processes, one reports it. True when this call did.
   */
  async claimOverdue(id: number, previous: string | null, expected: string): Promise<boolean> {
    let q = this.db.updateTable('schedules').set({ overdue_reported_for: expected }).where('id', '=', id);
    q = previous === null ? q.where('overdue_reported_for', 'is', null) : q.where('overdue_reported_for', '=', previous);
    return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
  }

  /** Runs expected up to `until` are not judged overdue (a schedule just enabled, or given another time). */
  async judgeOverdueFrom(id: number, until: string): Promise<void> {
    await this.db.updateTable('schedules').set({ overdue_reported_for: until }).where('id', '=', id).execute();
  }

  /** Whether a backup of this schedule, made at or after `since`, succeeded. */
  async succeededSince(id: number, since: string): Promise<boolean> {
    const r = await this.db.selectFrom('backups').select('id').where('schedule_id', '=', id).where('status', '=', 'success')
      .where('created_at', '>=', since).limit(1).executeTakeFirst();
    return r !== undefined;
  }

  async setResult(id: number, result: string): Promise<void> {
    await this.db.updateTable('schedules').set({ last_result: result }).where('id', '=', id).execute();
  }
}
