/**
 * The retention policy of `forget`, reproducing restic's semantics (restic 0.14,
 * `internal/restic/snapshot_policy.go`, `snapshot_group.go`, `duration.go`, and the manual's
 * "Removing backup snapshots"). Pure logic: no repository access.
 *
 * Semantics, as restic has them:
 *
 * - Snapshots are sorted newest first (stable: equal times keep their input order) and walked once.
 * - `last`/`hourly`/`daily`/`weekly`/`monthly`/`yearly` = n: a snapshot is kept by a rule when its
 *   bucket (always new for `last`; `YYYY-MM-DD HH`; the date; ISO year+week; year+month; year) differs
 *   from the bucket of the previous snapshot that rule kept, while the rule still has count left.
 *   Each keep uses up one count. Count 0/absent disables a rule; -1 means unlimited (as restic
 *   >= 0.15 has it; restic 0.14 silently ignores -1, so `--keep-last -1` there removes everything).
 *   Unlike restic >= 0.17 the oldest snapshot is *not* additionally kept when counts remain.
 * - `within` = duration: keep every snapshot strictly newer than `latest - duration`, where `latest`
 *   is the newest snapshot of the group that is not in the future (relative to `now`), and the
 *   subtraction is calendar arithmetic (Go's `AddDate(-y, -m, -d)` then minus `h` hours) in the zone
 *   of that latest snapshot. If every snapshot is in the future, all of them count as "within".
 * - `withinHourly` ... `withinYearly`: among the snapshots within the duration, keep the newest of
 *   every bucket (no count).
 * - `tags`: a list of tag lists; a snapshot is kept for every list whose tags it all has. A list
 *   containing `""` matches untagged snapshots (restic's `--keep-tag ''`); an empty list matches all.
 * - Reasons, in restic's order and wording: `has tags [a, b]`, `within 1y2m`, `last snapshot`,
 *   `hourly snapshot`, `daily snapshot`, `weekly snapshot`, `monthly snapshot`, `yearly snapshot`,
 *   `hourly within 2d`, `daily within 2d`, `weekly within 2d`, `monthly within 2d`, `yearly within 2d`.
 * - An empty policy keeps everything with the reason `policy is empty` (restic's `ApplyPolicy`);
 *   restic's CLI refuses to act on it ("no policy was specified, no snapshots will be removed"),
 *   callers should check {@link isEmptyPolicy} and do the same.
 *
 * Time zones. restic buckets a snapshot by the wall clock *in the UTC offset stored in the
 * snapshot's `time` string* (Go keeps the parsed offset; restic writes the backup host's local zone).
 * The process's zone plays no role in bucketing, only in one corner: Go attaches the Local zone
 * (with its DST rules) to a parsed time whose non-zero offset equals Local's offset at that instant,
 * which changes the calendar arithmetic of `within*` across a DST change. Here:
 * - `timeOffsetMinutes` on a snapshot (minutes east of UTC, see {@link timeOffsetOf}) is that stored
 *   offset. Without it the offset is taken from `options.timeZone` at that instant — right for
 *   snapshots written in that zone, which is what restic and Coffer both write.
 * - `options.timeZone` (an IANA name such as `UTC` or `Europe/Berlin`; default: the process's local
 *   zone, i.e. `TZ`) plays the role of Go's Local.
 * Times are `Date`s, so comparisons have millisecond resolution (restic: nanoseconds).
 */

/** The part of a snapshot the policy looks at; declared structurally so any snapshot type fits. */
export interface PolicySnapshot {
  id: string;
  time: Date;
  hostname: string;
  paths: readonly string[];
  tags?: readonly string[] | null | undefined;
  /** The UTC offset (minutes east) stored in the snapshot's time string, when known. */
  timeOffsetMinutes?: number | undefined;
}

/** restic's `Duration`: calendar units, not a fixed length. */
export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export type DurationSpec = string | Duration;

export interface ForgetPolicy {
  last?: number | undefined;
  hourly?: number | undefined;
  daily?: number | undefined;
  weekly?: number | undefined;
  monthly?: number | undefined;
  yearly?: number | undefined;
  within?: DurationSpec | undefined;
  withinHourly?: DurationSpec | undefined;
  withinDaily?: DurationSpec | undefined;
  withinWeekly?: DurationSpec | undefined;
  withinMonthly?: DurationSpec | undefined;
  withinYearly?: DurationSpec | undefined;
  /** Each inner list is one `--keep-tag a,b`: the snapshot must have all of its tags. */
  tags?: ReadonlyArray<readonly string[]> | undefined;
}

export interface PolicyOptions {
  /** Snapshots at or after `now` are not considered "latest" for `within*`. Default: the current time. */
  now?: Date | undefined;
  /** IANA zone standing in for Go's Local (see the module comment). Default: the process's zone. */
  timeZone?: string | undefined;
}

export interface PolicyResult<T> {
  /** Newest first. */
  keep: T[];
  /** Newest first. */
  remove: T[];
  /** For every kept snapshot, the rules that matched it, in restic's order and wording. */
  reasons: Map<T, string[]>;
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

// ---------------------------------------------------------------------------------------------
// Durations

const ZERO_DURATION: Duration = Object.freeze({ years: 0, months: 0, days: 0, hours: 0 });

/**
 * restic's `ParseDuration`: a sequence of `<integer><unit>` with unit `y`, `m` (months), `d` or `h`,
 * e.g. `1y2m3d4h`. Surrounding whitespace is trimmed, a number may be negative, units may come in any
 * order and a repeated unit overrides the earlier one. `""` is the zero duration.
 */
export function parseDuration(input: string): Duration {
  const d: Duration = { ...ZERO_DURATION };
  let s = input.trim();
  while (s !== '') {
    const m = /^(-?)(\d*)/.exec(s)!;
    const digits = m[2]!;
    if (digits === '') throw new PolicyError(`invalid duration ${JSON.stringify(input)}: no number found`);
    const num = (m[1] === '-' ? -1 : 1) * Number(digits);
    if (!Number.isSafeInteger(num)) throw new PolicyError(`invalid duration ${JSON.stringify(input)}: number out of range`);
    s = s.slice(m[0].length);
    if (s === '') throw new PolicyError(`invalid duration ${JSON.stringify(input)}: no unit found after number ${num}`);
    switch (s[0]) {
      case 'y': d.years = num; break;
      case 'm': d.months = num; break;
      case 'd': d.days = num; break;
      case 'h': d.hours = num; break;
      default:
        throw new PolicyError(`invalid duration ${JSON.stringify(input)}: invalid unit ${JSON.stringify(s[0])} found after number ${num}`);
    }
    s = s.slice(1);
  }
  return d;
}

/** restic's `Duration.String()`: non-zero units in the order y, m, d, h (`""` for zero). */
export function formatDuration(d: Duration): string {
  let s = '';
  if (d.years !== 0) s += `${d.years}y`;
  if (d.months !== 0) s += `${d.months}m`;
  if (d.days !== 0) s += `${d.days}d`;
  if (d.hours !== 0) s += `${d.hours}h`;
  return s;
}

export function isZeroDuration(d: Duration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

function toDuration(spec: DurationSpec | undefined, name: string): Duration {
  if (spec === undefined) return ZERO_DURATION;
  if (typeof spec === 'string') return parseDuration(spec);
  for (const k of ['years', 'months', 'days', 'hours'] as const) {
    if (!Number.isSafeInteger(spec[k])) throw new PolicyError(`${name}: ${k} must be an integer`);
  }
  return spec;
}

/**
 * The policy fragment for a `retention_days: n` setting: keep every snapshot made within n
 * calendar days of the newest one (`--keep-within <n>d`).
 */
export function withinDays(n: number): { within: string } {
  if (!Number.isSafeInteger(n) || n < 1) throw new PolicyError(`retention days must be a positive integer, got ${n}`);
  return { within: `${n}d` };
}

// ---------------------------------------------------------------------------------------------
// Policy checks

const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
const WITHIN_RULES = ['within', 'withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const;

function toCount(v: number | undefined, name: string): number {
  if (v === undefined) return 0;
  if (!Number.isSafeInteger(v) || v < -1) {
    throw new PolicyError(`keep ${name}: expected a non-negative integer or -1 (unlimited), got ${v}`);
  }
  return v;
}

interface NormalizedPolicy {
  counts: Record<(typeof COUNT_RULES)[number], number>;
  durations: Record<(typeof WITHIN_RULES)[number], Duration>;
  tags: ReadonlyArray<readonly string[]>;
}

function normalize(policy: ForgetPolicy): NormalizedPolicy {
  const counts = {} as NormalizedPolicy['counts'];
  for (const k of COUNT_RULES) counts[k] = toCount(policy[k], k);
  const durations = {} as NormalizedPolicy['durations'];
  for (const k of WITHIN_RULES) durations[k] = toDuration(policy[k], k);
  const tags = policy.tags ?? [];
  for (const l of tags) {
    if (!Array.isArray(l) || l.some((t) => typeof t !== 'string')) throw new PolicyError('keep tags: expected lists of strings');
  }
  return { counts, durations, tags };
}

/** Throws {@link PolicyError} for bad counts (only integers >= -1) or unparsable durations. */
export function validatePolicy(policy: ForgetPolicy): void {
  normalize(policy);
}

/**
 * True when the policy would keep everything because nothing is set (restic's `Empty()`): all counts
 * 0/absent, all durations zero/absent (`0d` counts as absent), no tag lists. `tags: [[]]` is *not*
 * empty (it keeps every snapshot, "has tags []").
 */
export function isEmptyPolicy(policy: ForgetPolicy): boolean {
  const p = normalize(policy);
  return p.tags.length === 0 && COUNT_RULES.every((k) => p.counts[k] === 0) &&
    WITHIN_RULES.every((k) => isZeroDuration(p.durations[k]));
}

/** restic's "Applying Policy: ..." text, e.g. `keep 7 daily, 4 weekly snapshots`. */
export function describePolicy(policy: ForgetPolicy): string {
  const p = normalize(policy);
  const names = { last: 'latest', hourly: 'hourly', daily: 'daily', weekly: 'weekly', monthly: 'monthly', yearly: 'yearly' };
  const keeps: string[] = [];
  for (const k of COUNT_RULES) {
    if (p.counts[k] > 0) keeps.push(`${p.counts[k]} ${names[k]}`);
    else if (p.counts[k] === -1) keeps.push(`all ${names[k]}`);
  }
  const keepw: string[] = [];
  for (const [k, what] of [['withinHourly', 'hourly'], ['withinDaily', 'daily'], ['withinWeekly', 'weekly'],
    ['withinMonthly', 'monthly'], ['withinYearly', 'yearly']] as const) {
    if (!isZeroDuration(p.durations[k])) keepw.push(`${what} snapshots within ${formatDuration(p.durations[k])}`);
  }
  let s = keeps.length > 0 ? `${keeps.join(', ')} snapshots` : '';
  if (keepw.length > 0) s += (s !== '' ? ', ' : '') + keepw.join(', ');
  if (p.tags.length > 0) s += (s !== '' ? ' and ' : '') + `all snapshots with tags [${p.tags.map(formatTagList).join(' ')}]`;
  if (!isZeroDuration(p.durations.within)) {
    s += (s !== '' ? ' and ' : '') + `all snapshots within ${formatDuration(p.durations.within)} of the newest`;
  }
  return `keep ${s}`;
}

// ---------------------------------------------------------------------------------------------
// Tags

/** restic's `--keep-tag`/`--tag` argument: comma-separated, whitespace around each tag trimmed. */
export function parseTagList(s: string): string[] {
  return s.split(',').map((t) => t.trim());
}

/** restic's `TagList.String()`: `[a, b]`. */
export function formatTagList(l: readonly string[]): string {
  return `[${l.join(', ')}]`;
}

/** restic's `Snapshot.HasTags`: all of `l` present; a `""` in `l` matches an untagged snapshot. */
export function hasTags(sn: Pick<PolicySnapshot, 'tags'>, l: readonly string[]): boolean {
  const tags = sn.tags ?? [];
  for (const tag of l) {
    if (tag === '' && tags.length === 0) return true;
    if (!tags.includes(tag)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Zones and calendar fields

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/** Offset (minutes east of UTC) of a zone at an instant. */
type ZoneOffset = (ms: number) => number;

const localZone: ZoneOffset = (ms) => {
  const off = -new Date(ms).getTimezoneOffset();
  return off === 0 ? 0 : off; // no -0
};

const zoneCache = new Map<string, ZoneOffset>();

function ianaZone(name: string): ZoneOffset {
  let z = zoneCache.get(name);
  if (z) return z;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
    });
  } catch {
    throw new PolicyError(`unknown time zone ${JSON.stringify(name)}`);
  }
  z = (ms: number) => {
    const whole = Math.floor(ms / 1000) * 1000;
    const f: Record<string, string> = {};
    for (const part of fmt.formatToParts(whole)) f[part.type] = part.value;
    let year = Number(f.year);
    if (f.era === 'BC' || f.era === 'B') year = 1 - year;
    const wall = utcFromFields(year, Number(f.month) - 1, Number(f.day), Number(f.hour), Number(f.minute), Number(f.second), 0);
    return Math.round((wall - whole) / MS_PER_MINUTE);
  };
  zoneCache.set(name, z);
  return z;
}

function zoneFor(name: string | undefined): ZoneOffset {
  return name === undefined ? localZone : ianaZone(name);
}

/** Date.UTC without its mapping of years 0..99 to 19xx; out-of-range fields roll over like Go's Date. */
function utcFromFields(year: number, month: number, day: number, h: number, mi: number, s: number, ms: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, mi, s, ms);
  return d.getTime();
}

/** Where a snapshot's time lives, as Go would hold it after parsing the stored string. */
interface Placed {
  ms: number;
  /** The stored offset: the wall clock is `ms + offset`. */
  offset: number;
  /** Go's Location: the Local stand-in when the offset matched it, else the fixed offset. */
  zone: ZoneOffset | null;
}

function place(sn: PolicySnapshot, local: ZoneOffset): Placed {
  const ms = sn.time.getTime();
  if (Number.isNaN(ms)) throw new PolicyError(`snapshot ${sn.id}: invalid time`);
  const offset = sn.timeOffsetMinutes ?? local(ms);
  if (!Number.isInteger(offset)) throw new PolicyError(`snapshot ${sn.id}: invalid time offset ${offset}`);
  // "Z" parses as UTC; a non-zero offset that Local has at that instant parses as Local.
  const zone = offset !== 0 && local(ms) === offset ? local : null;
  return { ms, offset, zone };
}

interface Fields {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
}

function wallFields(p: Placed): Fields {
  const w = new Date(p.ms + p.offset * MS_PER_MINUTE);
  return { year: w.getUTCFullYear(), month: w.getUTCMonth() + 1, day: w.getUTCDate(), hour: w.getUTCHours() };
}

/** ISO 8601 week-numbering year and week (Go's `ISOWeek`). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const days = Math.floor(utcFromFields(year, month - 1, day, 0, 0, 0, 0) / MS_PER_DAY);
  const weekday = ((new Date(days * MS_PER_DAY).getUTCDay() + 6) % 7) + 1; // Monday = 1 .. Sunday = 7
  const thursday = new Date((days + 4 - weekday) * MS_PER_DAY);
  const isoYear = thursday.getUTCFullYear();
  const jan1 = Math.floor(utcFromFields(isoYear, 0, 1, 0, 0, 0, 0) / MS_PER_DAY);
  return { year: isoYear, week: Math.floor((days + 4 - weekday - jan1) / 7) + 1 };
}

type Bucker = (f: Fields, nr: number) => number;

const always: Bucker = (_f, nr) => nr;
const ymdh: Bucker = (f) => f.year * 1_000_000 + f.month * 10_000 + f.day * 100 + f.hour;
const ymd: Bucker = (f) => f.year * 10_000 + f.month * 100 + f.day;
const yw: Bucker = (f) => {
  const w = isoWeek(f.year, f.month, f.day);
  return w.year * 100 + w.week;
};
const ym: Bucker = (f) => f.year * 100 + f.month;
const y: Bucker = (f) => f.year;

/** Go's `t.AddDate(-y, -m, -d).Add(-h hours)` for the time `p`. */
function subtractDuration(p: Placed, d: Duration): number {
  const w = new Date(p.ms + p.offset * MS_PER_MINUTE);
  const wall = utcFromFields(w.getUTCFullYear() - d.years, w.getUTCMonth() - d.months, w.getUTCDate() - d.days,
    w.getUTCHours(), w.getUTCMinutes(), w.getUTCSeconds(), w.getUTCMilliseconds());
  let ms: number;
  if (p.zone === null) {
    ms = wall - p.offset * MS_PER_MINUTE;
  } else {
    // Go's Date: take the offset in force at `wall` read as UTC; re-look it up if that lands elsewhere.
    let off = p.zone(wall);
    const again = p.zone(wall - off * MS_PER_MINUTE);
    if (again !== off) off = again;
    ms = wall - off * MS_PER_MINUTE;
  }
  return ms - d.hours * MS_PER_HOUR;
}

// ---------------------------------------------------------------------------------------------
// Applying the policy

/** Newest first; equal times keep their input order. */
function sortNewestFirst<T extends PolicySnapshot>(list: readonly T[]): T[] {
  return list.map((sn, i) => ({ sn, i, t: sn.time.getTime() }))
    .sort((a, b) => (b.t - a.t) || (a.i - b.i))
    .map((e) => e.sn);
}

/**
 * Decides which snapshots of one group `policy` keeps (restic's `ApplyPolicy`). Group first with
 * {@link groupSnapshots} (or use {@link planForget}); restic applies the policy per group.
 */
export function applyPolicy<T extends PolicySnapshot>(list: readonly T[], policy: ForgetPolicy,
  options: PolicyOptions = {}): PolicyResult<T> {
  const p = normalize(policy);
  const local = zoneFor(options.timeZone);
  const sorted = sortNewestFirst(list);
  const placed = sorted.map((sn) => place(sn, local));
  const reasons = new Map<T, string[]>();

  if (isEmptyPolicy(policy)) {
    for (const sn of sorted) reasons.set(sn, ['policy is empty']);
    return { keep: sorted, remove: [], reasons };
  }
  const keep: T[] = [];
  const remove: T[] = [];
  if (sorted.length === 0) return { keep, remove, reasons };

  const buckets: { count: number; bucker: Bucker; last: number | null; reason: string }[] = [
    { count: p.counts.last, bucker: always, last: null, reason: 'last snapshot' },
    { count: p.counts.hourly, bucker: ymdh, last: null, reason: 'hourly snapshot' },
    { count: p.counts.daily, bucker: ymd, last: null, reason: 'daily snapshot' },
    { count: p.counts.weekly, bucker: yw, last: null, reason: 'weekly snapshot' },
    { count: p.counts.monthly, bucker: ym, last: null, reason: 'monthly snapshot' },
    { count: p.counts.yearly, bucker: y, last: null, reason: 'yearly snapshot' },
  ];

  // The newest snapshot that is not in the future; null when there is none (Go's zero time).
  const now = (options.now ?? new Date()).getTime();
  let latest: Placed | null = null;
  for (const pl of placed) {
    if (pl.ms < now && (latest === null || pl.ms > latest.ms)) latest = pl;
  }
  const cutoff = (d: Duration): number => (latest === null ? -Infinity : subtractDuration(latest, d));

  const within = p.durations.within;
  const withinCutoff = isZeroDuration(within) ? null : cutoff(within);
  const bucketsWithin = ([
    ['withinHourly', ymdh, 'hourly within'],
    ['withinDaily', ymd, 'daily within'],
    ['withinWeekly', yw, 'weekly within'],
    ['withinMonthly', ym, 'monthly within'],
    ['withinYearly', y, 'yearly within'],
  ] as const).filter(([k]) => !isZeroDuration(p.durations[k])).map(([k, bucker, reason]) => ({
    cutoff: cutoff(p.durations[k]), bucker, last: null as number | null,
    reason: `${reason} ${formatDuration(p.durations[k])}`,
  }));

  sorted.forEach((cur, nr) => {
    const pl = placed[nr]!;
    const fields = wallFields(pl);
    const matches: string[] = [];

    for (const l of p.tags) {
      if (hasTags(cur, l)) matches.push(`has tags ${formatTagList(l)}`);
    }
    if (withinCutoff !== null && pl.ms > withinCutoff) matches.push(`within ${formatDuration(within)}`);

    for (const b of buckets) {
      if (b.count > 0 || b.count === -1) {
        const val = b.bucker(fields, nr);
        if (val !== b.last) {
          b.last = val;
          if (b.count > 0) b.count--;
          matches.push(b.reason);
        }
      }
    }
    for (const b of bucketsWithin) {
      if (pl.ms > b.cutoff) {
        const val = b.bucker(fields, nr);
        if (val !== b.last) {
          b.last = val;
          matches.push(b.reason);
        }
      }
    }

    if (matches.length > 0) {
      keep.push(cur);
      reasons.set(cur, matches);
    } else {
      remove.push(cur);
    }
  });
  return { keep, remove, reasons };
}

// ---------------------------------------------------------------------------------------------
// Grouping

export interface GroupBy {
  host: boolean;
  paths: boolean;
  tags: boolean;
}

/** restic's default `--group-by host,paths`. */
export const DEFAULT_GROUP_BY: Readonly<GroupBy> = Object.freeze({ host: true, paths: true, tags: false });

/** restic's `--group-by` value: comma-separated `host(s)`, `path(s)`, `tag(s)`; `''` disables grouping. */
export function parseGroupBy(s: string): GroupBy {
  const g: GroupBy = { host: false, paths: false, tags: false };
  for (const option of s.split(',')) {
    switch (option) {
      case 'host': case 'hosts': g.host = true; break;
      case 'path': case 'paths': g.paths = true; break;
      case 'tag': case 'tags': g.tags = true; break;
      case '': break;
      default: throw new PolicyError(`unknown grouping option: '${option}'`);
    }
  }
  return g;
}

/**
 * A group's key, shaped like restic's `SnapshotGroupKey` (and the `host`/`paths`/`tags` of
 * `forget --json`): hostname `''`, paths/tags `null` when not grouped by them. Paths and tags
 * are sorted; an absent and an empty tag list are the same (both `null`).
 */
export interface SnapshotGroupKey {
  hostname: string;
  paths: string[] | null;
  tags: string[] | null;
}

export interface SnapshotGroup<T> {
  key: SnapshotGroupKey;
  snapshots: T[];
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * restic's `GroupSnapshots`: snapshots with equal host / sorted paths / sorted tags (as selected)
 * share a group. Groups are ordered by host, paths, tags (restic's order is random); each keeps the
 * input order of its snapshots.
 */
export function groupSnapshots<T extends PolicySnapshot>(snapshots: readonly T[],
  groupBy: Readonly<GroupBy> = DEFAULT_GROUP_BY): SnapshotGroup<T>[] {
  const groups = new Map<string, SnapshotGroup<T>>();
  for (const sn of snapshots) {
    const tags = groupBy.tags && sn.tags && sn.tags.length > 0 ? [...sn.tags].sort(byCodeUnits) : null;
    const key: SnapshotGroupKey = {
      hostname: groupBy.host ? sn.hostname : '',
      paths: groupBy.paths ? [...sn.paths].sort(byCodeUnits) : null,
      tags,
    };
    const k = JSON.stringify([key.hostname, key.paths, key.tags]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { key, snapshots: [] }));
    g.snapshots.push(sn);
  }
  return [...groups.values()].sort((a, b) => compareKeys(a.key, b.key));
}

function compareLists(a: readonly string[] | null, b: readonly string[] | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = byCodeUnits(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Host, then paths, then tags; lists element-wise (a prefix first), `null` first. */
function compareKeys(a: SnapshotGroupKey, b: SnapshotGroupKey): number {
  return byCodeUnits(a.hostname, b.hostname) || compareLists(a.paths, b.paths) || compareLists(a.tags, b.tags);
}

export interface ForgetGroup<T> extends PolicyResult<T> {
  key: SnapshotGroupKey;
}

/** Groups, then applies `policy` to each group: what `restic forget --dry-run` reports. */
export function planForget<T extends PolicySnapshot>(snapshots: readonly T[], policy: ForgetPolicy,
  options: PolicyOptions & { groupBy?: Readonly<GroupBy> | undefined } = {}): ForgetGroup<T>[] {
  validatePolicy(policy);
  return groupSnapshots(snapshots, options.groupBy ?? DEFAULT_GROUP_BY)
    .map((g) => ({ key: g.key, ...applyPolicy(g.snapshots, policy, options) }));
}

/**
 * The UTC offset (minutes east) written in an RFC 3339 time string, as restic stores snapshot
 * times: `Z` gives 0, `+02:00` gives 120. Undefined when the string carries no offset.
 */
export function timeOffsetOf(rfc3339: string): number | undefined {
  const m = /(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(rfc3339.trim());
  if (!m) return undefined;
  if (m[1] === undefined) return 0;
  const off = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return off === 0 ? 0 : off;
}
