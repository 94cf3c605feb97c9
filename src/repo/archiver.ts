/**
 * Backup of directory trees into a snapshot. The walker runs on the main thread with cheap
 * synchronous stat calls; file contents go to the worker pool (read → chunk → hash → compress →
 * seal); full packs are uploaded by the `BlobSaver`. A directory's tree blob is saved once all of
 * its children are done. Memory is bounded by the pool's queues, never by the number of files.
 *
 * Trees mirror the absolute paths of the targets, as restic's do, so `restic restore` of a Coffer
 * snapshot lays files out exactly as for a restic snapshot.
 */
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { groupName, userName } from './accounts.js';
import { combineExcludes, compileExcludes, type ExcludeMatcher } from './exclude.js';
import { FileReadError, FileSaverPool } from './file-saver-pool.js';
import { type ID, hashId } from './ids.js';
import { safeUsername } from './keys.js';
import { type NodeType, type TreeNode, compareNames, encodeTree, goModeFromStMode, nodeTypeFromStMode } from './node.js';
import type { Repository } from './repository.js';
import { type Snapshot, type SnapshotJSON, type SnapshotSummary } from './snapshot.js';
import { ParentTrees, type ParentDir } from './parent-trees.js';
import { formatTime, formatTimeNs, parseTimeNs } from './time.js';
import { CancelledError, NothingToBackUpError } from './errors.js';
import { PathEscapeError } from './beneath.js';
import { VERSION } from './version.js';

export interface BackupProgress {
  filesDone: number;
  bytesDone: number;
  /** Totals from the concurrent scanner; undefined until it finishes. */
  filesTotal?: number;
  bytesTotal?: number;
  currentFile?: string;
  errors: number;
}

export interface BackupOptions {
  paths: string[];
  excludes?: string[];
  /** Like `excludes`, matched case-insensitively (restic's --iexclude). */
  iexcludes?: string[];
  host?: string;
  tags?: string[];
  parent?: Snapshot;
  time?: Date;
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (path: string, message: string) => void;
  /** Count totals ahead of the backup, for an ETA. */
  scan?: boolean;
  /**
   * Where the paths are read from: `paths` (and everything the snapshot records) are the
   * snapshot's paths, read on disk at `path.join(root, p)`. For an uploaded backup file unpacked
   * in a staging directory, whose snapshot must keep its original absolute paths.
   */
  root?: string;
  /**
   * Directories (snapshot paths) below which every ancestor of a target must be a real directory:
   * a target named by a request (a partial backup's item inside a part) is never reached through a
   * symbolic link planted between the part and it, which the operating system would follow. Checked
   * with lstat as the walk reaches each ancestor, so a link made after the request is caught too.
   */
  confine?: string[];
}

export interface BackupResult {
  snapshotId: ID;
  snapshot: SnapshotJSON;
  summary: SnapshotSummary;
  /** Entries that could not be read (the backup still completed: exit code 3). */
  errors: number;
}

/** The summary's counters, filled as the backup goes. */
type Counters = Omit<SnapshotSummary, 'backup_start' | 'backup_end'>;

/** Throws PathEscapeError when `abs`, an ancestor of targets, lies below a confining root and is not a real directory. */
function refuseLinkBelowConfine(abs: string, st: BigIntStats, confine: readonly string[] | undefined): void {
  if (st.isDirectory()) return;
  const root = confine?.find((r) => abs.startsWith(r.endsWith('/') ? r : `${r}/`));
  if (root === undefined) return;
  const rel = path.relative(root, abs);
  const what = st.isSymbolicLink() ? 'a symbolic link; paths are not followed through links' : 'not a directory';
  throw new PathEscapeError(`${rel} is ${what}`, rel);
}

/** A path component of the targets: either a target itself or an ancestor leading to targets. */
interface TargetNode {
  abs: string;
  target: boolean;
  children: Map<string, TargetNode>;
}

type Pending = { done: Promise<TreeNode | null> };

/**
 * A node still being made. Its failure is observed from the start: the directory that awaits it
 * may be walked for a long while yet, or never finish (the walk stopped on a cancellation or an
 * earlier failure), and a rejection nobody handles meanwhile would end the process. Whoever awaits
 * `done` still sees the error.
 */
function pending(done: Promise<TreeNode | null>): Pending {
  done.catch(() => undefined);
  return { done };
}

function newCounters(): Counters {
  return {
    files_new: 0, files_changed: 0, files_unmodified: 0, dirs_new: 0, dirs_changed: 0, dirs_unmodified: 0,
    data_blobs: 0, tree_blobs: 0, data_added: 0, data_added_packed: 0, total_files_processed: 0, total_bytes_processed: 0,
  };
}

/** Fields in the order restic writes them, so our JSON reads like restic's. */
function baseNode(name: string, type: NodeType, st: BigIntStats): TreeNode {
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const node: TreeNode = {
    name,
    type,
    mode: goModeFromStMode(Number(st.mode)),
    mtime: formatTimeNs(st.mtimeNs),
    // As restic without --with-atime: atime = mtime. Reading a directory updates its atime, so
    // recording it would make every backup store new trees for unchanged directories.
    atime: formatTimeNs(st.mtimeNs),
    ctime: formatTimeNs(st.ctimeNs),
    uid,
    gid,
  } as TreeNode;
  const user = userName(uid);
  if (user) node.user = user;
  const group = groupName(gid);
  if (group) node.group = group;
  node.inode = Number(st.ino);
  // As current restic: the device id only matters to pair hard links on restore, and it changes
  // between mounts (LVM or btrfs snapshots), so recording it everywhere would churn trees.
  if (type !== 'dir' && st.nlink > 1n) node.device_id = Number(st.dev);
  return node;
}

function unchanged(prev: TreeNode | undefined, st: BigIntStats): prev is TreeNode {
  if (!prev || prev.type !== 'file' || !prev.content) return false;
  if ((prev.size ?? 0) !== Number(st.size)) return false;
  if (prev.inode !== undefined && prev.inode !== Number(st.ino)) return false;
  try {
    return parseTimeNs(prev.mtime) === st.mtimeNs && parseTimeNs(prev.ctime) === st.ctimeNs;
  } catch {
    return false;
  }
}

export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  // As restic: missing targets are warned about, but with none left there is nothing to back up.
  const root = opts.root === undefined ? undefined : path.resolve(opts.root);
  /** A snapshot path's place on disk. */
  const disk = root === undefined ? (p: string): string => p : (p: string): string => path.join(root, p);
  if (!opts.paths.some((p) => lstatSync(disk(path.resolve(p)), { throwIfNoEntry: false }))) {
    throw new NothingToBackUpError(`all target directories/files do not exist: ${opts.paths.join(', ')}`);
  }
  const start = new Date();
  const counters = newCounters();
  const progress: BackupProgress = { filesDone: 0, bytesDone: 0, errors: 0 };
  const excludes: ExcludeMatcher = combineExcludes([
    compileExcludes(opts.excludes ?? []),
    compileExcludes(opts.iexcludes ?? [], { caseInsensitive: true }),
  ]);
  const saver = repo.blobSaver();
  const parents = new ParentTrees(repo, opts.parent?.tree);
  const signal = opts.signal;
  const warn = (p: string, message: string): void => {
    progress.errors++;
    opts.onWarning?.(p, message);
  };
  const report = (): void => opts.onProgress?.(progress);

  const known: ID[] = [];
  for (const loc of repo.index.allBlobs()) if (loc.blob.type === 'data') known.push(loc.blob.id);
  const pool = new FileSaverPool({
    key: repo.key,
    polynomial: repo.config.chunker_polynomial,
    compress: repo.compress,
    known,
    saver,
    workers: opts.workers,
    onBlob: (plain, packed) => {
      counters.data_blobs++;
      counters.data_added += plain;
      counters.data_added_packed += packed;
    },
  });

  // The scanner stops when the backup ends, so it never keeps the process (or the disk) busy.
  const scanStop = new AbortController();
  if (opts.scan) void scanTotals(opts.paths.map((p) => disk(path.resolve(p))), excludes, scanStop.signal).then((t) => {
    progress.filesTotal = t.files;
    progress.bytesTotal = t.bytes;
  }, () => undefined);

  const saveTree = async (nodes: TreeNode[]): Promise<ID> => {
    nodes.sort((a, b) => compareNames(a.name, b.name));
    const plain = encodeTree(nodes);
    const id = hashId(plain);
    const r = await saver.save('tree', plain, id);
    if (r.stored) {
      counters.tree_blobs++;
      counters.data_added += plain.length;
      counters.data_added_packed += r.packedBytes;
    }
    return id;
  };

  const fileNode = async (abs: string, name: string, st: BigIntStats, prev: TreeNode | undefined): Promise<Pending> => {
    if (unchanged(prev, st) && prev.content!.every((id) => repo.index.has('data', id) || saver.has('data', id))) {
      // An unchanged ctime means no metadata changed either (chmod, chown, link count all set
      // it), so the parent's node is this file's node: no re-encoding, and the tree id stays.
      counters.files_unmodified++;
      counters.total_files_processed++;
      counters.total_bytes_processed += prev.size ?? 0;
      progress.filesDone++;
      progress.bytesDone += prev.size ?? 0;
      return { done: Promise.resolve(prev) };
    }
    const node = baseNode(name, 'file', st);
    node.size = Number(st.size);
    node.links = Number(st.nlink);
    const handle = await pool.submit(disk(abs));
    return pending(
      handle.done.then(
        (r) => {
          node.size = r.size;
          node.content = r.content;
          if (prev) counters.files_changed++;
          else counters.files_new++;
          counters.total_files_processed++;
          counters.total_bytes_processed += r.size;
          progress.filesDone++;
          progress.bytesDone += r.size;
          progress.currentFile = abs;
          report();
          return node;
        },
        (err: unknown) => {
          if (err instanceof FileReadError) {
            warn(abs, err.message);
            return null;
          }
          throw err;
        },
      ),
    );
  };

  /** Walks one entry (already lstat'ed); returns once its work is queued, with a promise of its node. */
  const entry = async (abs: string, name: string, st: BigIntStats, parentDir: ParentDir | undefined): Promise<Pending> => {
    if (signal?.aborted) throw new CancelledError('backup cancelled');
    const type = nodeTypeFromStMode(Number(st.mode));
    const prev = parentDir?.node(name);
    switch (type) {
      case 'file':
        return fileNode(abs, name, st, prev);
      case 'dir':
        return dirNode(abs, name, st, prev, await parentDir?.subdir(name));
      case 'symlink': {
        const node = baseNode(name, type, st);
        node.links = Number(st.nlink);
        try {
          node.linktarget = readlinkSync(disk(abs));
        } catch (err) {
          warn(abs, (err as Error).message);
          return { done: Promise.resolve(null) };
        }
        node.content = null;
        return { done: Promise.resolve(node) };
      }
      default: {
        const node = baseNode(name, type, st);
        node.links = Number(st.nlink);
        if (type === 'dev' || type === 'chardev') node.device = Number(st.rdev);
        node.content = null;
        return { done: Promise.resolve(node) };
      }
    }
  };

  const finishDir = (name: string, st: BigIntStats, prev: TreeNode | undefined, children: Pending[]): Pending => pending(
    Promise.all(children.map((c) => c.done)).then(async (nodes) => {
      const subtree = await saveTree(nodes.filter((n): n is TreeNode => n !== null));
      const node = baseNode(name, 'dir', st);
      node.content = null;
      node.subtree = subtree;
      if (!prev) counters.dirs_new++;
      else if (prev.subtree === subtree) counters.dirs_unmodified++;
      else counters.dirs_changed++;
      return node;
    }),
  );

  const dirNode = async (abs: string, name: string, st: BigIntStats, prev: TreeNode | undefined,
    parentDir: ParentDir | undefined): Promise<Pending> => {
    let names: string[];
    try {
      names = readdirSync(disk(abs));
    } catch (err) {
      warn(abs, (err as Error).message);
      names = [];
    }
    const children: Pending[] = [];
    for (const child of names) {
      const childAbs = path.join(abs, child);
      if (excludes.excludes(childAbs)) continue;
      let cst: BigIntStats;
      try {
        cst = lstatSync(disk(childAbs), { bigint: true });
      } catch (err) {
        warn(childAbs, (err as Error).message);
        continue;
      }
      children.push(await entry(childAbs, child, cst, parentDir));
    }
    return finishDir(name, st, prev, children);
  };

  /** Ancestors of targets get their real metadata but only the children leading to targets. */
  const targetNode = async (t: TargetNode, name: string, parentDir: ParentDir | undefined): Promise<Pending> => {
    // As restic: a target matching an exclude pattern is skipped whole.
    if (t.target && excludes.excludes(t.abs)) return { done: Promise.resolve(null) };
    let st: BigIntStats;
    try {
      st = lstatSync(disk(t.abs), { bigint: true });
    } catch (err) {
      if (t.target) {
        warn(t.abs, (err as Error).message);
        return { done: Promise.resolve(null) };
      }
      throw err;
    }
    if (t.target) return entry(t.abs, name, st, parentDir);
    refuseLinkBelowConfine(t.abs, st, opts.confine);
    const children: Pending[] = [];
    const prevDir = await parentDir?.subdir(name);
    for (const [childName, child] of t.children) children.push(await targetNode(child, childName, prevDir));
    return finishDir(name, st, parentDir?.node(name), children);
  };

  const targets = buildTargets(opts.paths);
  let rootTree: ID;
  let failed = false;
  try {
    const rootParent = await parents.root();
    const children: Pending[] = [];
    for (const [name, t] of targets.children) children.push(await targetNode(t, name, rootParent));
    // The walk checks the signal between entries; files already queued are read by the workers,
    // so a cancellation must also stop the wait for them (the pool's workers are terminated below).
    const nodes = await untilAborted(Promise.all(children.map((c) => c.done)), signal);
    rootTree = await saveTree(nodes.filter((n): n is TreeNode => n !== null));
    await untilAborted(repo.flush(), signal);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    scanStop.abort();
    await pool.close();
    // After the workers stopped, so that no blob of this attempt reaches the saver once abandoned.
    if (failed) await saver.abandon();
  }

  const end = new Date();
  const summary: SnapshotSummary = { backup_start: formatTime(start), backup_end: formatTime(end), ...counters };
  const tags = opts.tags && opts.tags.length > 0 ? [...opts.tags] : undefined;
  const snapshot: SnapshotJSON = {
    time: formatTime(opts.time ?? start),
    ...(opts.parent ? { parent: opts.parent.id } : {}),
    tree: rootTree,
    paths: [...targets.paths].sort(),
    hostname: opts.host ?? hostname(),
    username: safeUsername(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    ...(opts.excludes && opts.excludes.length > 0 ? { excludes: opts.excludes } : {}),
    ...(tags ? { tags } : {}),
    program_version: `coffer ${VERSION}`,
    summary,
  };
  const snapshotId = await repo.saveSnapshot(snapshot);
  return { snapshotId, snapshot, summary, errors: progress.errors };
}

/** `p`, unless `signal` fires first: then a CancelledError (and `p`'s outcome is ignored). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(new CancelledError('backup cancelled'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => undefined);
      reject(new CancelledError('backup cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function buildTargets(paths: string[]): TargetNode & { paths: Set<string> } {
  const root: TargetNode & { paths: Set<string> } = { abs: '/', target: false, children: new Map(), paths: new Set() };
  for (const p of paths) {
    const abs = path.resolve(p);
    root.paths.add(abs);
    const parts = abs.split('/').filter(Boolean);
    let cur: TargetNode = root;
    let curAbs = '';
    for (const part of parts) {
      curAbs += '/' + part;
      let next = cur.children.get(part);
      if (!next) {
        next = { abs: curAbs, target: false, children: new Map() };
        cur.children.set(part, next);
      }
      cur = next;
    }
    if (cur === root) throw new Error('cannot back up "/" as a path component tree root; name the directories below it');
    cur.target = true;
    cur.children.clear();
  }
  return root;
}

/**
 * Counts files and bytes the backup will see, for progress totals. Runs alongside the backup, a
 * directory's entries stat'ed concurrently so the totals arrive early enough to be useful.
 */
async function scanTotals(paths: string[], excludes: ExcludeMatcher, signal: AbortSignal): Promise<{ files: number; bytes: number }> {
  const { lstat, readdir } = await import('node:fs/promises');
  let files = 0;
  let bytes = 0;
  const visit = async (abs: string): Promise<void> => {
    if (signal.aborted) throw new CancelledError('scan stopped');
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return;
    if (!st.isDirectory()) {
      files++;
      if (st.isFile()) bytes += st.size;
      return;
    }
    const names = await readdir(abs).catch(() => [] as string[]);
    const children = names.map((n) => path.join(abs, n)).filter((c) => !excludes.excludes(c));
    for (let i = 0; i < children.length; i += 64) await Promise.all(children.slice(i, i + 64).map(visit));
  };
  for (const p of paths) await visit(p);
  return { files, bytes };
}
