/**
 * Brute-force throttling of sign-in failures, per key (an address, an address and user name, a
 * user name). After `freeFailures` failures inside the window, each further attempt waits twice
 * as long as the last (1 s, 2 s, 4 s … up to 15 min). Kept in memory: a restarted server forgets,
 * which only helps a guesser by the restart, and a shared catalog is not worth a write per failed guess.
 *
 * The map is bounded: past `maxEntries`, the entry whose last failure is oldest is dropped. A Map
 * iterates in insertion order and each failure re-inserts its entry, so the first key is always
 * the one to drop: O(1) per failure, whatever number of addresses a guesser rotates through.
 */
interface Entry {
  failures: number;
  first: number;
  blockedUntil: number;
}

export interface ThrottleOptions {
  freeFailures?: number;
  windowMs?: number;
  maxBlockMs?: number;
  maxEntries?: number;
}

export class Throttle {
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly windowMs: number;
  private readonly maxBlockMs: number;
  private readonly maxEntries: number;

  constructor(o: ThrottleOptions = {}) {
    this.freeFailures = o.freeFailures ?? 10;
    this.windowMs = o.windowMs ?? 10 * 60_000;
    this.maxBlockMs = o.maxBlockMs ?? 15 * 60_000;
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  /** Seconds to wait before this key may try again, or 0. */
  retryAfter(key: string, now = Date.now()): number {
    const e = this.entries.get(key);
    if (!e || e.blockedUntil <= now) return 0;
    return Math.ceil((e.blockedUntil - now) / 1000);
  }

  fail(key: string, now = Date.now()): void {
    let e = this.entries.get(key);
    // Most recently failed last: delete and set again moves the key to the end of the order.
    this.entries.delete(key);
    if (!e || now - e.first > this.windowMs) e = { failures: 0, first: now, blockedUntil: 0 };
    e.failures++;
    const over = e.failures - this.freeFailures;
    if (over > 0) e.blockedUntil = now + Math.min(this.maxBlockMs, 1000 * 2 ** (over - 1));
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, e);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Keys held (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }
}

/**
 * How many failed sign-ins reach the audit log: at most `perMinute` in each minute, so that a
 * flood of guesses cannot fill the log (or the catalog). The first entry after a quiet spell says
 * how many were left out.
 */
export class FailureAudit {
  private minute = -1;
  private written = 0;
  private skipped = 0;

  constructor(private readonly perMinute = 30) {}

  /** null: leave this one out; else write it, noting the number left out before it. */
  admit(now = Date.now()): number | null {
    const minute = Math.floor(now / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.written = 0;
    }
    if (this.written >= this.perMinute) {
      this.skipped++;
      return null;
    }
    this.written++;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }
}
