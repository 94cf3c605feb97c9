import { describe, expect, it } from 'vitest';
import { SerialPass } from './serial-pass.js';

/** A pass that waits until released, counting how many started. */
function gatedPasses(fail = false) {
  let started = 0;
  let release: () => void = () => {};
  const pass = () => {
    started++;
    return new Promise<void>((resolve, reject) => (release = () => (fail ? reject(new Error('pass failed')) : resolve())));
  };
  return { pass, started: () => started, release: () => release() };
}
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('SerialPass', () => {
  it('runs one pass at a time, and one more after it for any number of wakes meanwhile', async () => {
    const g = gatedPasses();
    const p = new SerialPass(g.pass, () => {});
    p.wake();
    for (let i = 0; i < 5; i++) p.wake();
    expect(g.started()).toBe(1);
    g.release();
    await settle();
    expect(g.started()).toBe(2);
    g.release();
    await settle();
    expect(g.started()).toBe(2);
  });

  it('reports a failed pass and still runs the next one', async () => {
    const errors: unknown[] = [];
    const g = gatedPasses(true);
    const p = new SerialPass(g.pass, (err) => errors.push(err));
    p.wake();
    g.release();
    await settle();
    expect((errors[0] as Error).message).toBe('pass failed');
    p.wake();
    expect(g.started()).toBe(2);
  });

  it('starts no pass once stopped, not even the one asked for during the last', async () => {
    const g = gatedPasses();
    const p = new SerialPass(g.pass, () => {});
    p.wake();
    p.wake();
    p.stop();
    g.release();
    await settle();
    p.wake();
    expect(g.started()).toBe(1);
  });
});
