/**
 * Whole tree packs of a remote repository, kept in memory after the first tree asked of them.
 *
 * Walking a snapshot (a parent during backup, restore planning, check) asks for one tree per
 * directory, and trees of many directories share a pack. On a local disk each read is a cheap
 * pread; on object storage each is a round trip of 5–50 ms, so a tree of a few hundred directories
 * spent seconds in sequential requests (measured on Ceph: 160 GETs, 7 s of a 12 s restore). restic
 * avoids them with its on-disk cache of tree packs; here the pack is fetched whole once and kept,
 * up to a byte budget, least recently used first out.
 */
import type { Backend } from '../storage/index.js';

/** Tree packs kept at most, in bytes: a few packs of restic's 16 MiB, far more of Coffer's small ones. */
export const TREE_PACK_CACHE_BYTES = 48 * 1024 * 1024;

export class TreePackCache {
  private readonly kept = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  constructor(private readonly backend: Backend, private readonly budget = TREE_PACK_CACHE_BYTES) {}

  /** The pack's bytes at `offset`, `length` long, from the kept pack (fetching it whole first when needed). */
  async read(packId: string, offset: number, length: number): Promise<Buffer> {
    const pack = await this.pack(packId);
    if (offset + length > pack.length) {
      // The index promises bytes the pack does not have: let the caller's ranged read report it.
      return this.backend.load({ type: 'pack', name: packId }, offset, length);
    }
    return pack.subarray(offset, offset + length);
  }

  private async pack(packId: string): Promise<Buffer> {
    const kept = this.kept.get(packId);
    if (kept) {
      this.kept.delete(packId);
      this.kept.set(packId, kept);
      return kept;
    }
    let loading = this.loading.get(packId);
    if (!loading) {
      // One request for every concurrent reader of the same pack.
      loading = this.backend.load({ type: 'pack', name: packId }).finally(() => this.loading.delete(packId));
      this.loading.set(packId, loading);
      void loading.then((data) => this.keep(packId, data), () => undefined);
    }
    return loading;
  }

  private keep(packId: string, data: Buffer): void {
    if (data.length > this.budget || this.kept.has(packId)) return;
    while (this.bytes + data.length > this.budget) {
      const [oldest, buf] = this.kept.entries().next().value!;
      this.kept.delete(oldest);
      this.bytes -= buf.length;
    }
    this.kept.set(packId, data);
    this.bytes += data.length;
  }
}
