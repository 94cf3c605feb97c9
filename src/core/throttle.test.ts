import { describe, expect, it } from 'vitest';
import { Throttle } from './throttle.js';

describe('sign-in throttling', () => {
  it('lets the first failures through, then doubles the wait', () => {
    const t = new Throttle({ freeFailures: 3, windowMs: 60_000 });
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) t.fail('k', now);
    expect(t.retryAfter('k', now)).toBe(0);
    t.fail('k', now);
    expect(t.retryAfter('k', now)).toBe(1);
    t.fail('k', now);
    expect(t.retryAfter('k', now)).toBe(2);
    expect(t.retryAfter('k', now + 2000)).toBe(0);
    expect(t.retryAfter('other', now)).toBe(0);
  });

  it('forgets after a success or when the window has passed', () => {
    const t = new Throttle({ freeFailures: 1, windowMs: 60_000 });
    t.fail('k', 0);
    t.fail('k', 0);
    expect(t.retryAfter('k', 0)).toBeGreaterThan(0);
    t.succeed('k');
    expect(t.retryAfter('k', 0)).toBe(0);
    t.fail('k', 0);
    t.fail('k', 120_000); // a new window: the first failure again
    expect(t.retryAfter('k', 120_000)).toBe(0);
  });

  it('holds at most maxEntries keys, dropping the one whose last failure is oldest (Suspicion 3: no full sweep)', () => {
    const t = new Throttle({ freeFailures: 0, windowMs: 60_000, maxEntries: 3 });
    t.fail('a', 0);
    t.fail('b', 0);
    t.fail('c', 0);
    t.fail('a', 1); // a failed again: b is now the oldest
    t.fail('d', 2);
    expect(t.size).toBe(3);
    expect(t.retryAfter('b', 2)).toBe(0);
    for (const k of ['a', 'c', 'd']) expect(t.retryAfter(k, 2)).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) t.fail(`ip-${i}`, 3);
    expect(t.size).toBe(3);
  });
});
