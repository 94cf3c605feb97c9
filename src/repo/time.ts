/**
 * Timestamps as restic writes them: Go's RFC3339Nano in the local zone, e.g.
 * `2015-01-02T18:10:13.48307196+01:00` (trailing zeros of the fraction dropped, `Z` for UTC).
 * File times keep nanoseconds, so they travel as bigint nanoseconds since the epoch.
 */

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function formatTimeNs(epochNs: bigint): string {
  const { sec, nsec: frac } = timeSpecFromNs(epochNs);
  const ms = sec * 1000;
  const offsetMin = -new Date(ms).getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000);
  let s = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  if (frac !== 0) s += '.' + String(frac).padStart(9, '0').replace(/0+$/, '');
  if (offsetMin === 0) return s + 'Z';
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${s}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function formatTime(d: Date): string {
  return formatTimeNs(BigInt(d.getTime()) * NS_PER_MS);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** A point in time as whole seconds since the epoch and the nanoseconds after them (0 to 999999999). */
export interface TimeSpec {
  sec: number;
  nsec: number;
}

/**
 * Parses RFC3339 with up to nanosecond precision into seconds and nanoseconds, exactly: the
 * seconds come from whole-second calendar arithmetic and the fraction from its digits, never
 * through a fractional double.
 */
export function parseTimeSpec(s: string): TimeSpec {
  const m = RFC3339.exec(s);
  if (!m) {
    const ms = Date.parse(s);
    if (Number.isNaN(ms)) throw new Error(`invalid timestamp ${JSON.stringify(s)}`);
    const sec = Math.floor(ms / 1000);
    return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
  }
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  let sec = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)) / 1000;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone!.slice(1).split(':').map(Number);
    sec -= sign * (zh! * 60 + zm!) * 60;
  }
  return { sec, nsec: frac ? Number(frac.padEnd(9, '0')) : 0 };
}

/** Parses RFC3339 with up to nanosecond precision; returns nanoseconds since the epoch. */
export function parseTimeNs(s: string): bigint {
  const { sec, nsec } = parseTimeSpec(s);
  return BigInt(sec) * NS_PER_S + BigInt(nsec);
}

/** Nanoseconds since the epoch (as `fs.Stats` with `bigint: true` gives them) as seconds and nanoseconds. */
export function timeSpecFromNs(epochNs: bigint): TimeSpec {
  let sec = epochNs / NS_PER_S;
  let nsec = epochNs % NS_PER_S;
  if (nsec < 0n) {
    nsec += NS_PER_S;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

export function parseTime(s: string): Date {
  return new Date(Number(parseTimeNs(s) / NS_PER_MS));
}
