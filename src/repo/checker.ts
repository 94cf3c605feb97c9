/**
 * `check`: verifies a repository the way `restic check` (0.14) does, reporting every problem with
 * the file it concerns instead of stopping at the first one.
 *
 * 1. Index files: each one is loaded on its own (name == SHA-256 of the content, MAC, JSON shape),
 *    so a damaged index file is reported by name and the others are still used.
 * 2. Packs: the listing is compared with the index (missing packs are errors, packs in no index are
 *    warnings) and every pack's size with the size its index entries imply.
 * 3. Snapshots: each file is verified and parsed; every tree reachable from a snapshot is loaded
 *    once and verified, and its nodes checked against the index.
 * 4. With `readData` / `readDataSubset`: each selected pack is read in full (streamed in pieces);
 *    its hash, header and every blob (decrypted, decompressed, hashed) are checked against the index.
 *
 * The repository's own index is left alone: the check builds a private `MasterIndex`.
 */
import { randomInt } from 'node:crypto';
import { type FileType, isNotFound } from '../storage/index.js';
import { CRYPTO_OVERHEAD, open } from './crypto.js';
import { CancelledError, IntegrityError } from './errors.js';
import { type ID, hashId, isId, shortId } from './ids.js';
import { mapLimit } from './concurrency.js';
import { collectAll } from './gc.js';
import { type BlobLocation, MasterIndex } from './master-index.js';
import { type TreeNode, decodeTree } from './node.js';
import { type PackedBlob, decodeHeader, plaintextLength } from './pack.js';
import { defaultWorkerCount } from './file-saver-pool.js';
import { PackWorkerPool, VERIFY_PIECE } from './pack-worker-pool.js';
import { expectedPackSize } from './pack-stream.js';
import { errorMessage, withoutPrefix } from './pack-verify.js';
import type { Repository } from './repository.js';
import { type Snapshot, parseSnapshot } from './snapshot.js';
import { decodeUnpacked } from './unpacked.js';

export interface CheckProgress {
  /** 'index' | 'packs' | 'snapshots' | 'trees' | 'read-data' */
  phase: string;
  done: number;
  total: number;
}

export interface CheckOptions {
  /** Download and verify every pack. */
  readData?: boolean;
  /** Download and verify a subset of the packs: "n/t", "x%" or a size such as "50M". */
  readDataSubset?: string;
  signal?: AbortSignal;
  onProgress?: (p: CheckProgress) => void;
}

export interface CheckProblem {
  kind: 'error' | 'warning';
  /** The repository file concerned, e.g. "pack/<id>", "index/<id>", "snapshot/<id>". */
  file?: string;
  message: string;
}

export interface CheckResult {
  errors: CheckProblem[];
  warnings: CheckProblem[];
  /** Snapshot files found. */
  snapshots: number;
  /** Packs referenced by the index. */
  packs: number;
  /** Distinct blobs (type and id) in the index. */
  blobs: number;
  /** Packs downloaded and verified whole (`readData` / `readDataSubset`). */
  packsRead: number;
  /** Index files found. */
  indexFiles: number;
  /** Distinct trees visited from the snapshots. */
  trees: number;
  /** Blobs in the index that no snapshot uses (not a problem; `restic check --check-unused`). */
  unusedBlobs: number;
}

/** A parsed `--read-data-subset` value. */
export type ReadDataSubset =
  | { kind: 'bucket'; n: number; t: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'size'; bytes: number };

/** restic looks at the first byte of the pack id only, hence at most 256 groups. */
const MAX_BUCKETS = 256;

/**
 * Parses restic 0.14's `--read-data-subset`: "n/t" (the n-th of t groups of packs, by the first
 * byte of the pack id), "x%" (a random x% of the packs) or a size ("500M": random packs adding up
 * to about that much; suffixes K, M, G, T are powers of 1024). Throws on anything else.
 */
export function parseReadDataSubset(s: string): ReadDataSubset {
  const text = s.trim();
  let m = /^(\d+)\/(\d+)$/.exec(text);
  if (m) {
    const n = Number(m[1]);
    const t = Number(m[2]);
    if (t < 1 || t > MAX_BUCKETS) throw new Error(`read-data-subset: the number of groups must be between 1 and ${MAX_BUCKETS}, got ${m[2]}`);
    if (n < 1 || n > t) throw new Error(`read-data-subset: group ${m[1]} does not exist, must be between 1 and ${t}`);
    return { kind: 'bucket', n, t };
  }
  m = /^(\d+(?:\.\d*)?|\.\d+)%$/.exec(text);
  if (m) {
    const percent = Number(m[1]);
    if (!(percent > 0 && percent <= 100)) throw new Error(`read-data-subset: percentage ${text} is not between 0 and 100`);
    return { kind: 'percent', percent };
  }
  m = /^(\d+)([kKmMgGtT]?)$/.exec(text);
  if (m) {
    const exp = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
    const bytes = Number(m[1]) * 1024 ** exp;
    if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new Error(`read-data-subset: invalid size ${text}`);
    return { kind: 'size', bytes };
  }
  throw new Error(`read-data-subset: invalid value ${JSON.stringify(s)}: use n/t, x% or a size such as 500M`);
}

/** Picks the packs a subset reads, as restic 0.14 does. `packs` maps pack id → size. */
export function selectPacks(packs: ReadonlyMap<ID, number>, subset: ReadDataSubset): ID[] {
  const ids = [...packs.keys()];
  if (subset.kind === 'bucket') {
    return ids.filter((id) => parseInt(id.slice(0, 2), 16) % subset.t === subset.n - 1);
  }
  let percent: number;
  if (subset.kind === 'percent') percent = subset.percent;
  else {
    let total = 0;
    for (const size of packs.values()) total += size;
    percent = total > 0 ? Math.min(100, (subset.bytes / total) * 100) : 100;
  }
  let count = Math.floor((ids.length * percent) / 100);
  if (ids.length > 0 && count < 1) count = 1;
  // A partial Fisher-Yates shuffle: the first `count` entries become a uniform random sample.
  for (let i = 0; i < count; i++) {
    const j = i + randomInt(ids.length - i);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids.slice(0, count);
}

function fileName(type: FileType, id: ID): string {
  return `${type}/${id}`;
}

const isNonNegativeInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

interface IndexPackEntry {
  id: ID;
  blobs: PackedBlob[];
}

/**
 * Validates the JSON of one index file entry by entry. Entries that make no sense are reported and
 * left out; the rest is used. restic's legacy format (a bare list of packs) is accepted.
 */
function parseIndexJSON(json: unknown, report: (message: string) => void): IndexPackEntry[] | undefined {
  const list = Array.isArray(json) ? json : (json as { packs?: unknown } | null)?.packs;
  if (!Array.isArray(list)) {
    report('invalid index: no list of packs');
    return undefined;
  }
  const out: IndexPackEntry[] = [];
  for (const p of list as unknown[]) {
    const pack = p as { id?: unknown; blobs?: unknown } | null;
    if (!isId(pack?.id) || !Array.isArray(pack.blobs)) {
      report(`invalid pack entry ${JSON.stringify(pack?.id ?? null)}`);
      continue;
    }
    const blobs: PackedBlob[] = [];
    let valid = true;
    for (const e of pack.blobs as unknown[]) {
      const b = e as { id?: unknown; type?: unknown; offset?: unknown; length?: unknown; uncompressed_length?: unknown } | null;
      const ulen = b?.uncompressed_length ?? 0;
      if (!isId(b?.id) || (b.type !== 'data' && b.type !== 'tree') || !isNonNegativeInt(b.offset)
        || !isNonNegativeInt(b.length) || b.length < CRYPTO_OVERHEAD || !isNonNegativeInt(ulen)) {
        report(`pack ${pack.id}: invalid blob entry ${JSON.stringify(e)}`);
        valid = false;
        break;
      }
      blobs.push({ id: b.id, type: b.type, offset: b.offset, length: b.length, uncompressedLength: ulen });
    }
    if (valid) out.push({ id: pack.id, blobs });
  }
  return out;
}

/** Runs `fn` over a work list that `fn` may extend, with at most `limit` items in flight. */
function runQueue<T>(initial: T[], limit: number, fn: (item: T, push: (item: T) => void) => Promise<void>): Promise<void> {
  const queue = [...initial];
  let active = 0;
  let failed = false;
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      if (failed) return;
      if (queue.length === 0 && active === 0) {
        resolve();
        return;
      }
      while (active < limit && queue.length > 0) {
        // Last in, first out: depth first, so the queue stays about as long as the tree is deep times wide.
        const item = queue.pop()!;
        active++;
        fn(item, (next) => queue.push(next)).then(
          () => {
            active--;
            pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    pump();
  });
}

interface TreeJob {
  id: ID;
  snapshot: ID;
  /** Path of the directory in the snapshot, "/" for the root. */
  path: string;
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  // Parsed even when readData makes it moot, so a bad value is never silently accepted.
  const parsedSubset = opts.readDataSubset !== undefined ? parseReadDataSubset(opts.readDataSubset) : undefined;
  const subset = opts.readData ? undefined : parsedSubset;
  const backend = repo.backend;
  const connections = Math.max(1, backend.capabilities().connections);
  const errors: CheckProblem[] = [];
  const warnings: CheckProblem[] = [];
  const error = (file: string | undefined, message: string): void => {
    errors.push(file === undefined ? { kind: 'error', message } : { kind: 'error', file, message });
  };
  const warn = (file: string | undefined, message: string): void => {
    warnings.push(file === undefined ? { kind: 'warning', message } : { kind: 'warning', file, message });
  };
  const cancelled = (): void => {
    if (opts.signal?.aborted) throw new CancelledError('check cancelled');
  };
  const progress = (phase: string, done: number, total: number): void => opts.onProgress?.({ phase, done, total });

  // ---- 1. index files ----
  cancelled();
  const index = new MasterIndex();
  /** Pack id → blobs as the first index file listing it says. */
  const indexPacks = new Map<ID, PackedBlob[]>();
  /** Pack id → index files listing it. */
  const packIndexes = new Map<ID, ID[]>();
  /** Tree id → further copies of the blob in other packs than the one the index returns. */
  const treeCopies = new Map<ID, BlobLocation[]>();
  const indexNames: ID[] = [];
  for await (const f of backend.list('index')) indexNames.push(f.name);
  indexNames.sort();
  let done = 0;
  progress('index', 0, indexNames.length);
  const loaded = new Map<ID, IndexPackEntry[]>();
  await mapLimit(indexNames, connections, async (name) => {
    cancelled();
    const file = fileName('index', name);
    try {
      const raw = await backend.load({ type: 'index', name });
      const actual = hashId(raw);
      if (actual !== name) {
        error(file, `content does not match its name (SHA-256 is ${actual})`);
        return;
      }
      const json = decodeUnpacked(repo.key, raw, 'index file');
      if (Array.isArray(json)) warn(file, `has the old format (a bare list of packs, restic < 0.8)`);
      const entries = parseIndexJSON(json, (msg) => error(file, msg));
      if (entries) loaded.set(name, entries);
    } catch (err) {
      error(file, errorMessage(err));
    } finally {
      progress('index', ++done, indexNames.length);
    }
  });
  // Merge in name order so the result does not depend on which load finished first.
  for (const name of indexNames) {
    const entries = loaded.get(name);
    if (!entries) continue;
    for (const p of entries) {
      const files = packIndexes.get(p.id);
      if (files) {
        files.push(name);
        continue;
      }
      packIndexes.set(p.id, [name]);
      indexPacks.set(p.id, p.blobs);
      // The index keeps a blob's first location; remember other copies of trees to fall back on.
      for (const b of p.blobs) {
        const first = b.type === 'tree' ? index.lookup('tree', b.id) : undefined;
        if (first && first.packId !== p.id) {
          const alt = treeCopies.get(b.id);
          if (alt) alt.push({ packId: p.id, blob: b });
          else treeCopies.set(b.id, [{ packId: p.id, blob: b }]);
        }
      }
      index.addPack(p.id, p.blobs, false);
    }
    index.files.set(name, entries.map((p) => p.id));
  }
  loaded.clear();
  for (const [packId, files] of packIndexes) {
    if (files.length > 1) warn(fileName('pack', packId), `contained in several indexes: ${files.map(shortId).join(', ')}`);
  }

  // ---- 2. packs: listing against the index ----
  cancelled();
  const listed = new Map<ID, number>();
  for await (const f of backend.list('pack')) listed.set(f.name, f.size);
  progress('packs', 0, indexPacks.size);
  done = 0;
  for (const [packId, blobs] of indexPacks) {
    const file = fileName('pack', packId);
    const size = listed.get(packId);
    if (size === undefined) {
      error(file, `does not exist (listed in index ${packIndexes.get(packId)!.map(shortId).join(', ')})`);
    } else {
      const expected = expectedPackSize(blobs);
      if (size !== expected) error(file, `unexpected file size: got ${size}, expected ${expected} from the index`);
    }
    if (blobs.some((b) => b.type === 'tree') && blobs.some((b) => b.type === 'data')) {
      warn(file, `contains a mix of tree and data blobs`);
    }
    progress('packs', ++done, indexPacks.size);
  }
  for (const packId of listed.keys()) {
    if (!indexPacks.has(packId)) warn(fileName('pack', packId), 'not referenced in any index');
  }

  // ---- 3. snapshots and trees ----
  cancelled();
  const snapshotNames: ID[] = [];
  for await (const f of backend.list('snapshot')) snapshotNames.push(f.name);
  snapshotNames.sort();
  const snapshots: Snapshot[] = [];
  done = 0;
  progress('snapshots', 0, snapshotNames.length);
  await mapLimit(snapshotNames, connections, async (name) => {
    cancelled();
    const file = fileName('snapshot', name);
    try {
      const raw = await backend.load({ type: 'snapshot', name });
      const actual = hashId(raw);
      if (actual !== name) {
        error(file, `content does not match its name (SHA-256 is ${actual})`);
        return;
      }
      snapshots.push(parseSnapshot(decodeUnpacked(repo.key, raw, 'snapshot file'), name));
    } catch (err) {
      error(file, errorMessage(err));
    } finally {
      progress('snapshots', ++done, snapshotNames.length);
    }
  });
  snapshots.sort((a, b) => (a.id < b.id ? -1 : 1));

  const seenTrees = new Set<ID>();
  const usedData = new Set<ID>();
  const roots: TreeJob[] = [];
  for (const s of snapshots) {
    if (seenTrees.has(s.tree)) continue;
    seenTrees.add(s.tree);
    roots.push({ id: s.tree, snapshot: s.id, path: '/' });
  }
  // Pushed last, popped first: reverse so the trees are visited in snapshot order.
  roots.reverse();
  let treesDone = 0;
  progress('trees', 0, seenTrees.size);
  await runQueue(roots, connections, async (job, push) => {
    cancelled();
    const snapFile = fileName('snapshot', job.snapshot);
    const where = `tree ${job.id} (${job.path} in snapshot ${shortId(job.snapshot)})`;
    const loc = index.lookup('tree', job.id);
    if (!loc) {
      error(snapFile, `${where}: not found in index`);
    } else {
      let plain: Buffer | undefined;
      // Every damaged copy is reported, but one good copy is enough to walk on (as restic loads blobs).
      for (const l of [loc, ...(treeCopies.get(job.id) ?? [])]) {
        try {
          plain = repo.decodeBlob(await repo.loadSealed('tree', l), l.blob);
          break;
        } catch (err) {
          error(fileName('pack', l.packId), `${where}: cannot load: ${withoutPrefix(errorMessage(err), `blob ${job.id}: `)}`);
        }
      }
      let nodes: TreeNode[] | undefined;
      if (plain) {
        try {
          nodes = decodeTree(plain, job.id).nodes;
        } catch (err) {
          // The blob matches its id, so the tree was written this way: a writer's bug, not damage.
          error(snapFile, `${where}: ${errorMessage(err)}`);
        }
      }
      if (nodes) {
        const problem = (msg: string): void => error(snapFile, `${where}: ${msg}`);
        const subtrees = checkNodes(nodes, index, usedData, problem);
        for (const { name, subtree } of subtrees) {
          if (seenTrees.has(subtree)) continue;
          seenTrees.add(subtree);
          push({ id: subtree, snapshot: job.snapshot, path: joinPath(job.path, name) });
        }
      }
    }
    progress('trees', ++treesDone, seenTrees.size);
  });

  let usedCount = 0;
  for (const id of seenTrees) if (index.has('tree', id)) usedCount++;
  for (const id of usedData) if (index.has('data', id)) usedCount++;
  const treeCount = seenTrees.size;

  // ---- 4. read data ----
  let packsRead = 0;
  if (opts.readData || subset) {
    cancelled();
    // The walk's sets are done with: drop them, and compact the heap once, so that reading the
    // data (which runs for minutes on large repositories) starts from what is still needed.
    seenTrees.clear();
    usedData.clear();
    treeCopies.clear();
    collectAll();
    // Only packs that exist: missing ones were reported above.
    const candidates = new Map<ID, number>();
    for (const packId of indexPacks.keys()) {
      const size = listed.get(packId);
      if (size !== undefined) candidates.set(packId, size);
    }
    const selected = subset ? selectPacks(candidates, subset) : [...candidates.keys()];
    selected.sort();
    done = 0;
    progress('read-data', 0, selected.length);
    // One decoding worker per core while the main thread only reads: when the main thread decoded
    // in place of one worker (an isolate's ~17 MiB saved), its reads waited behind its decoding
    // (1.5 GB from disk 5.8 -> 4.9 s; 443 MB from Ceph 4.2 -> 3.7 s). A single core decodes inline.
    // Two pieces per stream: one decoded while the next is read. On a local disk one pack per
    // decoding thread keeps them busy. Object storage answers each piece after a round trip, so
    // there a pack per connection streams at once (2 MiB slots: 20 MiB for restic's default 5
    // connections): on Ceph 5.9 -> 5.3 s for 443 MB.
    const caps = repo.backend.capabilities();
    const decoders = defaultWorkerCount();
    const streams = caps.remote ? Math.max(decoders, caps.connections) : decoders;
    const pool = new PackWorkerPool(repo.key, { workers: decoders > 1 ? decoders : 0, slotSize: VERIFY_PIECE, slotsPerWorker: 2 * Math.ceil(streams / decoders) });
    try {
      // Each pack streamed through the pool's slots.
      await mapLimit(selected, caps.remote ? streams : pool.streams, async (packId) => {
        cancelled();
        const problems = await checkPackData(repo, pool, packId, candidates.get(packId)!, indexPacks.get(packId)!);
        for (const msg of problems) error(fileName('pack', packId), msg);
        packsRead++;
        progress('read-data', ++done, selected.length);
      });
    } finally {
      await pool.close();
    }
  }

  return {
    errors,
    warnings,
    snapshots: snapshotNames.length,
    packs: indexPacks.size,
    blobs: index.blobCount,
    packsRead,
    indexFiles: indexNames.length,
    trees: treeCount,
    unusedBlobs: index.blobCount - usedCount,
  };
}

const NODE_TYPES = new Set(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular']);

/**
 * Checks the nodes of one tree against the index (restic's `checkTree`) and returns its subtrees.
 * Data blobs used by files are added to `usedData`.
 */
function checkNodes(nodes: readonly unknown[], index: MasterIndex, usedData: Set<ID>,
  problem: (msg: string) => void): { name: string; subtree: ID }[] {
  const subtrees: { name: string; subtree: ID }[] = [];
  for (const [i, raw] of nodes.entries()) {
    if (typeof raw !== 'object' || raw === null) {
      problem(`node ${i} is not an object`);
      continue;
    }
    const node = raw as Partial<TreeNode>;
    const name = typeof node.name === 'string' ? node.name : '';
    const label = JSON.stringify(name);
    if (name === '') problem(`node ${i} has an empty name`);
    switch (node.type) {
      case 'file': {
        const content = node.content as unknown;
        if (!Array.isArray(content)) {
          problem(`file ${label} has ${content == null ? 'a nil' : 'an invalid'} blob list`);
          break;
        }
        let sum = 0;
        let complete = true;
        for (const [b, blobId] of (content as unknown[]).entries()) {
          if (!isId(blobId)) {
            problem(`file ${label} blob ${b} has an invalid id ${JSON.stringify(blobId)}`);
            complete = false;
            continue;
          }
          usedData.add(blobId);
          const loc = index.lookup('data', blobId);
          if (!loc) {
            problem(`file ${label} blob ${b} (${blobId}) not found in index`);
            complete = false;
            continue;
          }
          sum += plaintextLength(loc.blob);
        }
        const size = node.size ?? 0;
        if (complete && size !== sum) {
          problem(`file ${label}: metadata size (${size}) and sum of blob sizes (${sum}) do not match`);
        }
        break;
      }
      case 'dir':
        if (node.subtree === undefined || node.subtree === null) problem(`dir node ${label} has no subtree`);
        else if (!isId(node.subtree) || /^0+$/.test(node.subtree)) problem(`dir node ${label} subtree id ${JSON.stringify(node.subtree)} is invalid`);
        else subtrees.push({ name, subtree: node.subtree });
        break;
      default:
        if (typeof node.type !== 'string' || !NODE_TYPES.has(node.type)) problem(`node ${label} with invalid type ${JSON.stringify(node.type)}`);
    }
  }
  return subtrees;
}


/** Reads one pack and verifies it (in a worker when the pool has them). */
async function checkPackData(repo: Repository, pool: PackWorkerPool, packId: ID, size: number, indexBlobs: readonly PackedBlob[]): Promise<string[]> {
  try {
    const h = { type: 'pack', name: packId } as const;
    return await pool.verify(packId, size, (offset, length, into) => repo.backend.load(h, offset, length, into), indexBlobs);
  } catch (err) {
    return [isNotFound(err) ? 'does not exist' : `cannot read: ${errorMessage(err)}`];
  }
}
