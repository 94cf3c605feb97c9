import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Handle, MemoryBackend } from '../storage/index.js';
import { TreePackCache } from './tree-pack-cache.js';

/** A memory backend that counts its reads, standing in for object storage. */
class CountingBackend extends MemoryBackend {
  loads = 0;
  override async load(h: Handle, offset?: number, length?: number, into?: Uint8Array): Promise<Buffer> {
    this.loads++;
    return super.load(h, offset, length, into);
  }
}

/** Stores random bytes under their hash (the memory backend checks names) and returns both. */
async function savePack(b: MemoryBackend, size: number): Promise<{ name: string; bytes: Buffer }> {
  const bytes = randomBytes(size);
  const name = createHash('sha256').update(bytes).digest('hex');
  await b.save({ type: 'pack', name }, bytes);
  return { name, bytes };
}

describe('TreePackCache', () => {
  it('fetches a pack whole once for all its readers, concurrent or later, and slices it right', async () => {
    const b = new CountingBackend();
    const { name, bytes: pack } = await savePack(b, 100_000);
    const cache = new TreePackCache(b);
    const reads = await Promise.all([0, 10, 5000, 99_000].map((offset) => cache.read(name, offset, 1000)));
    expect(b.loads).toBe(1);
    reads.forEach((r, i) => expect(r.equals(pack.subarray([0, 10, 5000, 99_000][i], [0, 10, 5000, 99_000][i]! + 1000))).toBe(true));
    expect((await cache.read(name, 42, 7)).equals(pack.subarray(42, 49))).toBe(true);
    expect(b.loads).toBe(1);
  });

  it('keeps packs within its byte budget, least recently used out first', async () => {
    const b = new CountingBackend();
    const id = [(await savePack(b, 40_000)).name, (await savePack(b, 40_000)).name, (await savePack(b, 40_000)).name];
    const cache = new TreePackCache(b, 100_000);
    await cache.read(id[0]!, 0, 10);
    await cache.read(id[1]!, 0, 10);
    await cache.read(id[0]!, 0, 10); // the first is now the most recent
    await cache.read(id[2]!, 0, 10); // over budget: the second goes
    expect(b.loads).toBe(3);
    await cache.read(id[0]!, 0, 10);
    expect(b.loads).toBe(3);
    await cache.read(id[1]!, 0, 10);
    expect(b.loads).toBe(4);
  });

  it('leaves a read past the end of the pack to the backend, which reports it; a missing pack is an error', async () => {
    const b = new CountingBackend();
    const { name } = await savePack(b, 1000);
    const cache = new TreePackCache(b);
    await expect(cache.read(name, 900, 200)).rejects.toThrow();
    const later = randomBytes(100);
    const laterName = createHash('sha256').update(later).digest('hex');
    await expect(cache.read(laterName, 0, 10)).rejects.toThrow();
    // A failed fetch is not kept: the next reader tries again.
    await b.save({ type: 'pack', name: laterName }, later);
    expect((await cache.read(laterName, 0, 10)).equals(later.subarray(0, 10))).toBe(true);
  });
});
