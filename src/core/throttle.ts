/**
 * Brute-force throttling of sign-in failures, per client address and per (address, user name).
 * After `freeFailures` failures inside the window, each further attempt waits twice as long as
 * the last (1 s, 2 s, 4 s … up to 15 min). Kept in memory: a restarted server forgets, which only
 * helps a guesser by the restart, and a shared catalog is not worth a write per failed guess.
 */
interface Entry {
  failures: number;
  first: number;
  blockedUntil: number;
}

export class Throttle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly freeFailures = 10, private readonly windowMs = 10 * 60_000, private readonly maxBlockMs = 15 * 60_000) {}

  /** Seconds to wait before this key may try again, or 0. */
  retryAfter(key: string, now = Date.now()): number {
    const e = this.entries.get(key);
    if (!e || e.blockedUntil <= now) return 0;
    return Math.ceil((e.blockedUntil - now) / 1000);
  }

  fail(key: string, now = Date.now()): void {
    let e = this.entries.get(key);
    if (!e || now - e.first > this.windowMs) {
      e = { failures: 0, first: now, blockedUntil: 0 };
      this.entries.set(key, e);
    }
    e.failures++;
    const over = e.failures - this.freeFailures;
    if (over > 0) e.blockedUntil = now + Math.min(this.maxBlockMs, 1000 * 2 ** (over - 1));
    if (this.entries.size > 100_000) this.sweep(now);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  private sweep(now: number): void {
    for (const [k, e] of this.entries) if (now - e.first > this.windowMs && e.blockedUntil <= now) this.entries.delete(k);
  }
}
