/**
 * Prune: drop blobs no snapshot uses, under an exclusive lock (the caller holds it). Order follows
 * design.rst "Read and Write Ordering": repacked blobs go to new packs and a new index first; only
 * then are old index files removed, and only after that the packs they listed. A crash at any
 * point leaves a repository whose snapshots are all intact (at worst with unreferenced packs).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobType } from './pack.js';
import type { ID } from './ids.js';
import { writeIndexFiles } from './master-index.js';
import type { Repository } from './repository.js';
import { findUsedBlobs } from './tree-walk.js';
import { mapLimit } from './concurrency.js';

export interface PruneOptions {
  /** Unused space tolerated after prune, as a fraction of used space (restic's --max-unused 5%). */
  maxUnusedFraction?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface PruneStats {
  packsBefore: number;
  packsDeleted: number;
  packsRepacked: number;
  blobsRemoved: number;
  bytesFreed: number;
  unusedBytesAfter: number;
}

/**
 * Pack files a killed backup left in the backend's temp directory. Safe under prune's exclusive
 * lock: no writer of this repository is running.
 */
function removeStaleTempPacks(repo: Repository): void {
  const dir = repo.backend.capabilities().tempDir;
  if (!dir) return;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (/^pack-\d+-[0-9a-f]+\.tmp$/.test(n)) rmSync(join(dir, n), { force: true });
}

interface PackUse {
  id: ID;
  size: number;
  usedBytes: number;
  unusedBytes: number;
  usedBlobs: number;
  unusedBlobs: number;
}

export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneStats> {
  const say = opts.onProgress ?? (() => undefined);
  say('loading index');
  await repo.loadIndex();
  const snapshots = await repo.listSnapshots();
  say(`finding data used by ${snapshots.length} snapshots`);
  const used = await findUsedBlobs(repo, snapshots.map((s) => s.tree), opts.signal);

  // A blob stored in several packs is kept in one only: the first one we see.
  const kept = { data: new Set<ID>(), tree: new Set<ID>() } as Record<BlobType, Set<ID>>;
  const usage: PackUse[] = [];
  const sizes = new Map<ID, number>();
  for await (const f of repo.backend.list('pack')) sizes.set(f.name, f.size);
  for (const [packId, blobs] of repo.index.packs) {
    const u: PackUse = { id: packId, size: sizes.get(packId) ?? 0, usedBytes: 0, unusedBytes: 0, usedBlobs: 0, unusedBlobs: 0 };
    for (const b of blobs) {
      const isUsed = used[b.type].has(b.id) && !kept[b.type].has(b.id);
      if (isUsed) {
        kept[b.type].add(b.id);
        u.usedBytes += b.length;
        u.usedBlobs++;
      } else {
        u.unusedBytes += b.length;
        u.unusedBlobs++;
      }
    }
    usage.push(u);
  }
  for (const type of ['data', 'tree'] as const) {
    for (const id of used[type]) {
      if (!kept[type].has(id)) throw new Error(`${type} blob ${id} is used by a snapshot but missing from the index; run check, refusing to prune`);
    }
  }

  const remove = usage.filter((u) => u.usedBlobs === 0);
  const partly = usage.filter((u) => u.usedBlobs > 0 && u.unusedBlobs > 0).sort((a, b) => b.unusedBytes / b.size - a.unusedBytes / a.size);
  const totalUsed = usage.reduce((s, u) => s + u.usedBytes, 0);
  const maxUnused = (opts.maxUnusedFraction ?? 0.05) * totalUsed;
  let unusedLeft = partly.reduce((s, u) => s + u.unusedBytes, 0);
  const repack: PackUse[] = [];
  for (const u of partly) {
    if (unusedLeft <= maxUnused) break;
    repack.push(u);
    unusedLeft -= u.unusedBytes;
  }
  const stats: PruneStats = {
    packsBefore: usage.length,
    packsDeleted: remove.length + repack.length,
    packsRepacked: repack.length,
    blobsRemoved: [...remove, ...repack].reduce((s, u) => s + u.unusedBlobs, 0),
    bytesFreed: remove.reduce((s, u) => s + u.size, 0) + repack.reduce((s, u) => s + u.unusedBytes, 0),
    unusedBytesAfter: unusedLeft,
  };
  if (opts.dryRun || (remove.length === 0 && repack.length === 0)) return stats;

  // 1. Copy the used blobs of packs being repacked into new packs. Blobs move sealed as they are.
  say(`repacking ${repack.length} packs`);
  const saver = repo.blobSaver();
  const repackSet = new Set(repack.map((u) => u.id));
  const stillKept = { data: new Set<ID>(), tree: new Set<ID>() } as Record<BlobType, Set<ID>>;
  for (const u of usage) {
    if (repackSet.has(u.id) || u.usedBlobs === 0) continue;
    for (const b of repo.index.packs.get(u.id)!) if (used[b.type].has(b.id)) stillKept[b.type].add(b.id);
  }
  for (const u of repack) {
    const blobs = repo.index.packs.get(u.id)!;
    const data = await repo.backend.load({ type: 'pack', name: u.id });
    for (const b of blobs) {
      if (!used[b.type].has(b.id) || stillKept[b.type].has(b.id)) continue;
      const sealed = data.subarray(b.offset, b.offset + b.length);
      repo.decodeBlob(sealed, b); // never carry a damaged blob into a new pack
      // The saver's dedup checks the index, which still lists the old pack: bypass it.
      await saver.addSealedForce(b.type, b.id, Buffer.from(sealed), b.uncompressedLength);
      stillKept[b.type].add(b.id);
    }
  }
  await saver.flush();

  // 2. One new set of index files describing every pack that stays, superseding all old ones.
  const dropped = new Set([...remove.map((u) => u.id), ...repackSet]);
  const oldIndexFiles = [...repo.index.files.keys()];
  const keptPacks = [...repo.index.packs].filter(([id]) => !dropped.has(id));
  say(`writing index for ${keptPacks.length} packs`);
  const newIndexFiles = await writeIndexFiles(repo.backend, repo.key, repo.compress, keptPacks, oldIndexFiles);
  const newSet = new Set(newIndexFiles);

  // 3. Old index files, then the packs no index mentions any more.
  await mapLimit(oldIndexFiles.filter((id) => !newSet.has(id)), 8, (id) => repo.backend.remove({ type: 'index', name: id }));
  say(`deleting ${dropped.size} packs`);
  await mapLimit([...dropped], 8, (id) => repo.backend.remove({ type: 'pack', name: id }));
  removeStaleTempPacks(repo);
  return stats;
}
