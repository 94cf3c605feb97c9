/**
 * Restores a snapshot (or the parts of it matching include patterns) into a target directory.
 *
 * Work is organised by pack, not by file, as restic's restorer does: every pack holding needed
 * blobs is read once, each blob is decrypted, decompressed and verified against its id, then
 * written to every place it belongs. A hostile snapshot cannot write outside the target: names are
 * checked (no `/`, `..`, `.`, NUL, duplicates), files are opened with O_NOFOLLOW, existing path
 * components must be real directories, and symlinks are created only after all content is written.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileExcludes } from './exclude.js';
import { CancelledError, IntegrityError } from './errors.js';
import type { ID } from './ids.js';
import { mapLimit } from './concurrency.js';
import { PackWorkerPool } from './pack-worker-pool.js';
import { type TreeNode, chmodBitsFromGoMode, decodeTree, isSafeName } from './node.js';
import { type PackedBlob } from './pack.js';
import type { Repository } from './repository.js';
import type { Snapshot } from './snapshot.js';
import { setFileTimes, fileTimesAddon } from './file-times.js';
import { parseTimeSpec } from './time.js';

export interface RestoreOptions {
  target: string;
  /** restic-style patterns matched against paths in the snapshot; empty restores everything. */
  include?: string[];
  exclude?: string[];
  signal?: AbortSignal;
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (path: string, message: string) => void;
  /** Set owners (uid/gid). Defaults to true when running as root, as restic does. */
  owners?: boolean;
  /** Decoding threads (default: one per core; 0 decodes on the calling thread). */
  workers?: number;
}

export interface RestoreProgress {
  filesTotal: number;
  bytesTotal: number;
  filesDone: number;
  bytesDone: number;
}

export interface RestoreResult extends RestoreProgress {
  errors: number;
}

interface PlannedFile {
  abs: string;
  node: TreeNode;
  /** Blobs still to be written; at zero the file is complete. */
  remaining: number;
  /** For a hard link to a file restored earlier in this run. */
  linkTo?: string;
}

interface BlobTarget {
  file: PlannedFile;
  offset: number;
}

interface PackWork {
  blobs: Map<ID, { blob: PackedBlob; targets: BlobTarget[] }>;
}


export async function restore(repo: Repository, snapshot: Snapshot, opts: RestoreOptions): Promise<RestoreResult> {
  const target = path.resolve(opts.target);
  const includes = opts.include && opts.include.length > 0 ? compileExcludes(opts.include) : undefined;
  const excludes = opts.exclude && opts.exclude.length > 0 ? compileExcludes(opts.exclude) : undefined;
  const owners = opts.owners ?? process.getuid?.() === 0;
  // Before any work: without the addon every file's times would fail one by one.
  fileTimesAddon();
  let errors = 0;
  const warn = (p: string, msg: string): void => {
    errors++;
    opts.onWarning?.(p, msg);
  };
  const progress: RestoreProgress = { filesTotal: 0, bytesTotal: 0, filesDone: 0, bytesDone: 0 };

  const dirs: { abs: string; node: TreeNode }[] = [];
  const files: PlannedFile[] = [];
  const links: { abs: string; node: TreeNode }[] = [];
  const specials: { abs: string; node: TreeNode }[] = [];
  const hardlinks = new Map<string, string>();
  const packs = new Map<ID, PackWork>();

  // ---- plan: walk the trees ----
  const walk = async (treeId: ID, snapPath: string, abs: string, selectedAbove: boolean): Promise<boolean> => {
    const tree = decodeTree(await repo.loadBlob('tree', treeId), treeId);
    const seen = new Set<string>();
    let any = false;
    for (const node of tree.nodes) {
      if (!isSafeName(node.name)) throw new IntegrityError(`tree ${treeId}: unsafe entry name ${JSON.stringify(node.name)}`);
      if (seen.has(node.name)) throw new IntegrityError(`tree ${treeId}: duplicate entry name ${JSON.stringify(node.name)}`);
      seen.add(node.name);
      const childSnap = snapPath === '/' ? `/${node.name}` : `${snapPath}/${node.name}`;
      const childAbs = path.join(abs, node.name);
      if (!childAbs.startsWith(target + path.sep)) throw new IntegrityError(`entry ${childSnap} would be written outside the target`);
      if (excludes?.excludes(childSnap)) continue;
      const selected = selectedAbove || !includes || includes.excludes(childSnap);
      if (node.type === 'dir') {
        if (!node.subtree) throw new IntegrityError(`directory ${childSnap} has no subtree`);
        const idx = dirs.length;
        dirs.push({ abs: childAbs, node });
        const used = await walk(node.subtree, childSnap, childAbs, selected);
        // Unselected directories are kept only on the way to something selected.
        if (!used && !selected) dirs.splice(idx, 1);
        else any = true;
        continue;
      }
      if (!selected) continue;
      any = true;
      if (node.type === 'file') {
        progress.filesTotal++;
        progress.bytesTotal += node.size ?? 0;
        const linkKey = (node.links ?? 1) > 1 && node.inode !== undefined ? `${node.device_id ?? 0}:${node.inode}` : undefined;
        const first = linkKey ? hardlinks.get(linkKey) : undefined;
        const planned: PlannedFile = { abs: childAbs, node, remaining: 0 };
        if (first) {
          planned.linkTo = first;
          files.push(planned);
          continue;
        }
        if (linkKey) hardlinks.set(linkKey, childAbs);
        let offset = 0;
        for (const id of node.content ?? []) {
          const loc = repo.index.lookup('data', id);
          if (!loc) throw new IntegrityError(`file ${childSnap}: data blob ${id} is not in the index`);
          let work = packs.get(loc.packId);
          if (!work) packs.set(loc.packId, (work = { blobs: new Map() }));
          let entry = work.blobs.get(id);
          if (!entry) work.blobs.set(id, (entry = { blob: loc.blob, targets: [] }));
          entry.targets.push({ file: planned, offset });
          planned.remaining++;
          offset += repo.blobSize('data', id)!;
        }
        files.push(planned);
      } else if (node.type === 'symlink') {
        links.push({ abs: childAbs, node });
      } else {
        specials.push({ abs: childAbs, node });
      }
    }
    return any;
  };
  await walk(snapshot.tree, '/', target, false);

  // ---- create directories and empty files ----
  await ensureRealDir(target, target);
  for (const d of dirs) await ensureRealDir(d.abs, target);
  // Empty files, and files of several blobs (their blobs may be written by different workers in
  // any order, so each is created once here); a file's only blob creates it in the worker.
  const initialBlobs = new Map<PlannedFile, number>();
  for (const f of files) {
    if (f.linkTo) continue;
    initialBlobs.set(f, f.remaining);
    if (f.remaining === 1) continue;
    const fd = fs.openSync(f.abs, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
    try {
      // Full size up front: blobs of zeros are then skipped, leaving holes (sparse files stay sparse).
      if (f.remaining > 0) fs.ftruncateSync(fd, f.node.size ?? 0);
    } finally {
      fs.closeSync(fd);
    }
    if (f.remaining === 0) finishFile(f);
  }

  function finishFile(f: PlannedFile): void {
    progress.filesDone++;
    progress.bytesDone += f.node.size ?? 0;
    opts.onProgress?.(progress);
  }

  // ---- content, pack by pack: the main thread reads, workers decode, verify and write ----
  const caps = repo.backend.capabilities();
  const connections = Math.max(1, caps.connections);
  // A local disk answers at once: one read ahead keeps the workers fed (and memory as measured).
  const pool = new PackWorkerPool(repo.key, { ...(opts.workers !== undefined ? { workers: opts.workers } : {}), slotSize: MAX_RUN, readsInFlight: caps.remote ? connections : 1 });
  const packIds = [...packs.keys()];
  try {
    // The pool bounds what is in flight: one run per worker being decoded plus one being read.
    await mapLimit(packIds, Math.max(connections, pool.slots), async (packId) => {
      if (opts.signal?.aborted) throw new CancelledError('restore cancelled');
      const work = packs.get(packId)!;
      const blobs = [...work.blobs.values()].sort((a, b) => a.blob.offset - b.blob.offset);
      // Read runs of blobs that lie close together in one request; skip large gaps.
      for (const run of coalesce(blobs.map((b) => b.blob))) {
        const length = run.end - run.start;
        const load = (into: Uint8Array): Promise<Buffer> => repo.backend.load({ type: 'pack', name: packId }, run.start, length, into);
        const jobs = run.blobs.map((blob) => ({
          blob,
          targets: work.blobs.get(blob.id)!.targets.map((t) => ({ path: t.file.abs, offset: t.offset, create: initialBlobs.get(t.file) === 1 })),
        }));
        await pool.restore(length, load, run.start, jobs);
        for (const blob of run.blobs) {
          for (const t of work.blobs.get(blob.id)!.targets) if (--t.file.remaining === 0) finishFile(t.file);
        }
      }
      packs.delete(packId);
    });
  } finally {
    await pool.close();
  }

  // ---- hard links, symlinks, special files, then metadata (files before their directories) ----
  for (const f of files) {
    if (!f.linkTo) continue;
    try {
      fs.linkSync(f.linkTo, f.abs);
      finishFile(f);
    } catch (err) {
      warn(f.abs, `cannot create hard link: ${(err as Error).message}`);
    }
  }
  for (const l of links) {
    try {
      fs.symlinkSync(l.node.linktarget ?? '', l.abs);
    } catch (err) {
      warn(l.abs, `cannot create symlink: ${(err as Error).message}`);
    }
  }
  for (const s of specials) {
    try {
      createSpecial(s.abs, s.node);
    } catch (err) {
      warn(s.abs, `cannot create ${s.node.type}: ${(err as Error).message}`);
      continue;
    }
  }
  for (const f of files) applyMetadata(f.abs, f.node, owners, warn);
  for (const s of specials) applyMetadata(s.abs, s.node, owners, warn);
  for (const l of links) applyMetadata(l.abs, l.node, owners, warn);
  for (let i = dirs.length - 1; i >= 0; i--) applyMetadata(dirs[i]!.abs, dirs[i]!.node, owners, warn);
  return { ...progress, errors };
}

const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;

/** Creates a directory, or accepts an existing real one; an existing symlink or file is an error. */
async function ensureRealDir(abs: string, target: string): Promise<void> {
  try {
    fs.mkdirSync(abs, { recursive: abs === target, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(abs);
  if (!st.isDirectory()) throw new IntegrityError(`${abs} exists and is not a directory; refusing to restore through it`);
}

interface Run {
  start: number;
  end: number;
  blobs: PackedBlob[];
}

/**
 * Reads of at most 4 MiB: enough to amortise a request, a quarter of a pack of memory per slot. A
 * single blob larger than that (chunks go up to 8 MiB) is read alone into a buffer of its own.
 */
const MAX_RUN = 4 * 1024 * 1024;

/** Groups blobs sorted by offset into reads, merging neighbours separated by less than 1 MiB, up to MAX_RUN a read. */
function coalesce(blobs: PackedBlob[]): Run[] {
  const runs: Run[] = [];
  for (const b of blobs) {
    const last = runs.at(-1);
    if (last && b.offset - last.end < 1024 * 1024 && b.offset + b.length - last.start <= MAX_RUN) {
      last.end = Math.max(last.end, b.offset + b.length);
      last.blobs.push(b);
    } else runs.push({ start: b.offset, end: b.offset + b.length, blobs: [b] });
  }
  return runs;
}

function createSpecial(abs: string, node: TreeNode): void {
  switch (node.type) {
    case 'fifo':
      execFileSync('mkfifo', ['-m', '600', '--', abs]);
      return;
    case 'dev':
    case 'chardev': {
      const dev = BigInt(node.device ?? 0);
      // Linux's encoding of dev_t (see makedev(3)).
      const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
      const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
      execFileSync('mknod', ['-m', '600', '--', abs, node.type === 'dev' ? 'b' : 'c', String(major), String(minor)]);
      return;
    }
    default:
      throw new Error(`${node.type} entries are not restored`);
  }
}

function applyMetadata(abs: string, node: TreeNode, owners: boolean, warn: (p: string, m: string) => void): void {
  try {
    if (owners) fs.lchownSync(abs, node.uid, node.gid);
  } catch (err) {
    warn(abs, `cannot set owner: ${(err as Error).message}`);
  }
  try {
    if (node.type !== 'symlink' && node.mode !== undefined) fs.chmodSync(abs, chmodBitsFromGoMode(node.mode));
  } catch (err) {
    warn(abs, `cannot set mode: ${(err as Error).message}`);
  }
  try {
    // The link itself for a symlink; nothing else here is a link (files are opened O_NOFOLLOW).
    setFileTimes(abs, parseTimeSpec(node.atime), parseTimeSpec(node.mtime));
  } catch (err) {
    warn(abs, `cannot set times: ${(err as Error).message}`);
  }
}
