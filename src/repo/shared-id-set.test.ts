import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashId } from './ids.js';
import { SharedIdSet } from './shared-id-set.js';

describe('SharedIdSet', () => {
  it('holds exactly the ids it was built from', () => {
    const ids = Array.from({ length: 5000 }, () => hashId(randomBytes(16)));
    const set = new SharedIdSet(SharedIdSet.build([...ids, ...ids.slice(0, 100)]));
    for (const id of ids) expect(set.has(id)).toBe(true);
    for (let i = 0; i < 5000; i++) expect(set.has(hashId(randomBytes(16)))).toBe(false);
  });

  it('tells colliding ids apart, and handles the all-zero id and an empty set', () => {
    // Same first bytes (same home slot), different ids: probing must compare whole ids.
    const a = 'ab'.repeat(4) + '00'.repeat(28);
    const b = 'ab'.repeat(4) + '00'.repeat(27) + '01';
    const zero = '00'.repeat(32);
    const set = new SharedIdSet(SharedIdSet.build([a]));
    expect(set.has(a)).toBe(true);
    expect(set.has(b)).toBe(false);
    expect(set.has(zero)).toBe(false);
    expect(new SharedIdSet(SharedIdSet.build([a, b, zero])).has(zero)).toBe(true);
    expect(new SharedIdSet(SharedIdSet.build([])).has(a)).toBe(false);
  });
});
