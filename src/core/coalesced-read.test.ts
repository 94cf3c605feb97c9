import { describe, expect, it } from 'vitest';
import { CoalescedRead } from './coalesced-read.js';

/** A counter whose reads the test completes by hand, so that the order of events is exact. */
function manualCounter() {
  let value = 0;
  const pending: { resolve: (n: number) => void; started: number }[] = [];
  return {
    bump: () => void value++,
    read: () => new Promise<number>((resolve) => pending.push({ resolve, started: value })),
    /** Completes the oldest read with the value it saw when it started. */
    finishOne: () => {
      const r = pending.shift()!;
      r.resolve(r.started);
    },
    get reads() {
      return pending.length;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('CoalescedRead', () => {
  it('concurrent callers share reads: the first gets the read in flight, later ones the next', async () => {
    const c = manualCounter();
    const r = new CoalescedRead(c.read);
    const first = r.get();
    const later = [r.get(), r.get(), r.get()];
    expect(c.reads).toBe(1);
    c.finishOne();
    expect(await first).toBe(0);
    await tick();
    expect(c.reads).toBe(1);
    c.finishOne();
    expect(await Promise.all(later)).toEqual([0, 0, 0]);
  });

  it('never answers a caller from a read that started before its call (a change just made is seen)', async () => {
    const c = manualCounter();
    const r = new CoalescedRead(c.read);
    const before = r.get();
    c.bump(); // committed after the first read started, before the second call
    const after = r.get();
    c.finishOne();
    expect(await before).toBe(0);
    await tick();
    c.finishOne();
    expect(await after).toBe(1);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    let n = 0;
    const r = new CoalescedRead(async () => {
      n++;
      if (n === 1) throw new Error('connection lost');
      return n;
    });
    await expect(r.get()).rejects.toThrow('connection lost');
    expect(await r.get()).toBe(2);
  });
});
