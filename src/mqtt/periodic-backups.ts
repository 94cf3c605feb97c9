/**
 * Kanto's periodic backups, switched by the backend (KANTO.md 1.6, 3.5): `activate`
 * `{"from","to"}` (RFC 3339) runs a backup at `from` (at once when it has passed) and then every
 * period until `to`; `deactivate` stops them. Each run is an ordinary backup without options, so its
 * ZIP takes the two-step upload (an upload `request`, then the backend's `start`), as Kanto's runs
 * do. The `autoUpload` property tells the twin the state.
 */
import { type Continuation, errorMessage } from './context.js';
import { OperationError, fieldsOf, invalidParameters, parameterInvalid } from './params.js';

export interface AutoUploadValue {
  active: boolean;
  startTime: string | null;
  endTime: string | null;
}

export const INACTIVE: AutoUploadValue = { active: false, startTime: null, endTime: null };

// setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A Go duration as Kanto's `period` is written: `10h`, `1h30m`, `2s`, `500ms`. */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    ms += Number(m[1]) * units[m[2]!]!;
    at = part.lastIndex;
  }
  if (text.length === 0 || at !== text.length) throw new Error(`'${text}' is not a duration such as 10h, 1h30m or 2s`);
  return ms;
}

interface Period {
  from: Date;
  to: Date;
}

/** `activate`'s value: both times as RFC 3339 strings (Kanto panics on a missing one; here it is a 400). */
export function readPeriod(value: unknown): Period {
  const bad = (why: string) => invalidParameters('activate', value, why);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('the value must be an object with from and to');
  const fields = fieldsOf(value);
  const time = (key: 'from' | 'to'): { text: string; date: Date } => {
    const v = fields.get(key);
    if (typeof v !== 'string') throw bad(`'${key}' must be an RFC 3339 time string`);
    const date = new Date(v);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v) || Number.isNaN(date.getTime())) throw bad(`'${key}' must be an RFC 3339 time string`);
    return { text: v, date };
  };
  const from = time('from');
  const to = time('to');
  if (to.date < from.date) throw parameterInvalid(400, `period end - ${to.text} -  is before period start - ${from.text}`);
  return { from: from.date, to: to.date };
}

export class PeriodicBackups {
  private period: Period | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param runBackup starts one backup as the `backup` command would (rejects when the catalog has
   *   another operation of the directory running) and resolves with its continuation.
   */
  constructor(
    private readonly periodMs: number,
    private readonly runBackup: () => Promise<Continuation>,
    private readonly publish: (value: AutoUploadValue) => void,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {}

  get value(): AutoUploadValue {
    const p = this.period;
    return p ? { active: true, startTime: p.from.toISOString(), endTime: p.to.toISOString() } : INACTIVE;
  }

  activate(value: unknown): Continuation {
    const period = readPeriod(value);
    this.clear();
    this.period = period;
    this.publish(this.value);
    this.wakeAt(Math.max(period.from.getTime(), Date.now()));
    return undefined;
  }

  deactivate(): Continuation {
    this.end();
    return undefined;
  }

  stop(): void {
    this.clear();
  }

  private end(): void {
    this.clear();
    const was = this.period;
    this.period = undefined;
    if (was) this.publish(this.value);
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private wakeAt(at: number): void {
    const p = this.period;
    if (!p) return;
    if (at > p.to.getTime()) {
      this.end();
      return;
    }
    const wait = Math.max(0, at - Date.now());
    this.timer = setTimeout(() => (wait > MAX_TIMER_MS ? this.wakeAt(at) : this.fire(at)), Math.min(wait, MAX_TIMER_MS));
  }

  private fire(at: number): void {
    this.timer = undefined;
    this.runBackup().then(
      (next) => void next?.().catch((err: unknown) => this.log('Kanto periodic backup failed', err)),
      // Another operation runs: this run is skipped, the next comes a period later (as in Kanto).
      (err: unknown) => this.log(`Kanto periodic backup skipped: ${err instanceof OperationError ? err.message : errorMessage(err)}`),
    );
    // From the planned time, not from now: runs keep their rhythm however long each takes.
    let nextAt = at + this.periodMs;
    while (nextAt <= Date.now()) nextAt += this.periodMs;
    this.wakeAt(nextAt);
  }
}
