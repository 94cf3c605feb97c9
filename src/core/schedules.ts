/** Schedules (cron with seconds and a time zone, backup type, retention) and the scheduler that fires them. */
import { Cron } from 'croner';
import { BACKUP_TYPES, type BackupKind, type Catalog, type Schedule, type ScheduleInput } from '../catalog/index.js';
import type { ForgetPolicy } from '../repo/index.js';
import type { AuditLog } from './audit.js';
import { CoreError, invalid, notFound } from './errors.js';
import { BUILTIN_INSTANCE } from './instances.js';
import { httpUrl } from './notifications/index.js';
import { type Actor, requirePermission } from './permissions.js';
import type { ServerSecret } from './secrets.js';

const KEEPS = ['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly'] as const;

/** The next time `cron` fires after `from`, or null if it never does again. Throws CoreError for a bad expression or zone. */
export function nextRun(cron: string, timezone: string | null, from = new Date()): Date | null {
  let job: Cron;
  try {
    job = new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) });
  } catch (err) {
    throw invalid('cron', (err as Error).message);
  }
  const next = job.nextRun(from);
  job.stop();
  return next;
}

export function retentionPolicy(s: Schedule): ForgetPolicy | undefined {
  const p: ForgetPolicy = {};
  if (s.retentionDays) p.within = `${s.retentionDays}d`;
  if (s.keepLast) p.last = s.keepLast;
  if (s.keepHourly) p.hourly = s.keepHourly;
  if (s.keepDaily) p.daily = s.keepDaily;
  if (s.keepWeekly) p.weekly = s.keepWeekly;
  if (s.keepMonthly) p.monthly = s.keepMonthly;
  if (s.keepYearly) p.yearly = s.keepYearly;
  return Object.keys(p).length ? p : undefined;
}

export class ScheduleService {
  constructor(private readonly catalog: Catalog, private readonly secret: ServerSecret, private readonly audit: AuditLog) {}

  async list(actor: Actor, f: { instance?: string } = {}): Promise<Schedule[]> {
    requirePermission(actor, 'schedule.read');
    if (f.instance === undefined) return this.catalog.schedules.list();
    const i = await this.catalog.instances.byName(f.instance);
    return i ? this.catalog.schedules.list({ instanceId: i.id }) : [];
  }

  async get(actor: Actor, id: number): Promise<Schedule> {
    requirePermission(actor, 'schedule.read');
    const s = await this.catalog.schedules.get(id);
    if (!s) throw notFound(`schedule ${id}`);
    return s;
  }

  async create(actor: Actor, body: Record<string, unknown>): Promise<Schedule> {
    requirePermission(actor, 'schedule.write');
    const input = await this.input(body, undefined);
    const ping = pingUrlOf(body);
    let s = await this.catalog.schedules.create(input);
    if (ping !== undefined) s = await this.setPingUrl(s.id, ping);
    await this.audit.record(actor, 'schedule.create', `schedule:${s.id}`, { cron: s.cron, instance: s.instance, ping_url_set: s.pingUrlSealed !== null });
    return s;
  }

  /** PUT: the fields given replace those of the schedule; the others stay. */
  async update(actor: Actor, id: number, body: Record<string, unknown>): Promise<Schedule> {
    requirePermission(actor, 'schedule.write');
    const old = await this.catalog.schedules.get(id);
    if (!old) throw notFound(`schedule ${id}`);
    const input = await this.input(body, old);
    const ping = pingUrlOf(body);
    let s = (await this.catalog.schedules.replace(id, input))!;
    // Runs expected while it was disabled, or at its old times, were not missed.
    if ((s.enabled && !old.enabled) || s.cron !== old.cron || s.timezone !== old.timezone) await this.catalog.schedules.judgeOverdueFrom(id, new Date().toISOString());
    if (ping !== undefined) s = await this.setPingUrl(id, ping);
    await this.audit.record(actor, 'schedule.update', `schedule:${id}`, { cron: s.cron, enabled: s.enabled, ...(ping !== undefined ? { ping_url_set: ping !== null } : {}) });
    return s;
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requirePermission(actor, 'schedule.write');
    if (!(await this.catalog.schedules.remove(id))) throw notFound(`schedule ${id}`);
    await this.audit.record(actor, 'schedule.delete', `schedule:${id}`);
  }

  private async setPingUrl(id: number, url: string | null): Promise<Schedule> {
    await this.catalog.schedules.setPingUrl(id, url === null ? null : this.secret.seal(url));
    return (await this.catalog.schedules.get(id))!;
  }

  private async input(b: Record<string, unknown>, old: Schedule | undefined): Promise<ScheduleInput> {
    const pick = <T>(key: string, cur: T): unknown => (key in b ? b[key] : cur);
    const instanceName = pick('instance', old?.instance ?? BUILTIN_INSTANCE);
    if (typeof instanceName !== 'string') throw invalid('instance', 'must be the name of an instance');
    const instance = await this.catalog.instances.byName(instanceName);
    if (!instance) throw new CoreError('not_found', `instance ${instanceName} not found`, 'instance');
    const cron = pick('cron', old?.cron);
    if (typeof cron !== 'string' || cron.trim() === '') throw invalid('cron', 'is required: a cron expression (5 fields, or 6 with seconds)');
    const timezone = pick('timezone', old?.timezone ?? null);
    if (timezone !== null && (typeof timezone !== 'string' || !validZone(timezone))) throw invalid('timezone', 'must be an IANA time zone such as Europe/Berlin');
    const type = pick('type', old?.type ?? 'incremental');
    if (typeof type !== 'string' || !(BACKUP_TYPES as readonly string[]).includes(type)) throw invalid('type', `must be one of ${BACKUP_TYPES.join(', ')}`);
    const enabled = pick('enabled', old?.enabled ?? true);
    if (typeof enabled !== 'boolean') throw invalid('enabled', 'must be a boolean');
    const label = pick('label', old?.label ?? null);
    if (label !== null && (typeof label !== 'string' || label.length > 64)) throw invalid('label', 'must be a string of at most 64 characters');
    const count = (key: string, cur: number | null | undefined, max = 100_000): number | null => {
      const v = pick(key, cur ?? null);
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw invalid(key, `must be a whole number from 0 to ${max}`);
      return v === 0 ? null : v;
    };
    const includesUploaded = pick('retention_includes_uploaded', old?.retentionIncludesUploaded ?? false);
    if (typeof includesUploaded !== 'boolean') throw invalid('retention_includes_uploaded', 'must be a boolean');
    const keeps = Object.fromEntries(KEEPS.map((k) => [k, count(k, old ? old[camel(k)] : null)])) as Record<(typeof KEEPS)[number], number | null>;
    const grace = pick('overdue_grace_seconds', old?.overdueGraceSeconds ?? null);
    if (grace !== null && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 1 || grace > 31 * 86_400)) throw invalid('overdue_grace_seconds', 'must be a whole number of seconds from 1 to 2678400 (31 days), or null for the default');
    const next = nextRun(cron, timezone as string | null);
    return {
      instanceId: instance.id, cron, timezone: timezone as string | null, type: type as BackupKind, enabled, label: label as string | null,
      retentionDays: count('retention_days', old?.retentionDays, 36_500),
      keepLast: keeps.keep_last, keepHourly: keeps.keep_hourly, keepDaily: keeps.keep_daily, keepWeekly: keeps.keep_weekly,
      keepMonthly: keeps.keep_monthly, keepYearly: keeps.keep_yearly, retentionIncludesUploaded: includesUploaded,
      nextRunAt: enabled && next ? next.toISOString() : null, overdueGraceSeconds: grace as number | null,
    };
  }
}

/**
 * The schedule's Healthchecks ping URL as given: a URL, null to remove it, undefined when not
 * given (it stays). The URL is a credential (whoever has it can report the check as up), so it is
 * sealed and never shown again.
 */
function pingUrlOf(b: Record<string, unknown>): string | null | undefined {
  if (!('ping_url' in b) || b['ping_url'] === undefined) return undefined;
  return b['ping_url'] === null ? null : httpUrl('ping_url', b['ping_url']);
}

function camel(k: (typeof KEEPS)[number]): 'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly' {
  return k.replace(/_(\w)/, (_, c: string) => c.toUpperCase()) as ReturnType<typeof camel>;
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
