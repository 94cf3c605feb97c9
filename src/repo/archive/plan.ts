/**
 * Planning a backup file: walk the snapshot's trees once, decide every ZIP entry (name, kind,
 * size, mode, time, the data blobs of each file) and compute the ZIP's exact length, all before a
 * byte of file data is read. Writing (write.ts) then streams exactly what was planned.
 */
import * as posix from 'node:path/posix';
import { CancelledError, IntegrityError, NotFoundInRepoError } from '../errors.js';
import { type ID, shortId } from '../ids.js';
import { type TreeNode, chmodBitsFromGoMode, decodeTree, isSafeName } from '../node.js';
import type { Repository } from '../repository.js';
import type { Snapshot } from '../snapshot.js';
import { formatTime, parseTime } from '../time.js';
import { BackupFileError } from './errors.js';
import {
  type BackupMetadata, type ManifestFile, type ManifestFileType, type ManifestHead,
  MANIFEST_NAME, manifestLength,
} from './manifest.js';
import { zipSize } from './zip-size.js';

/**
 * How directories appear in the ZIP: `slash` is the standard `dir/` entry; `backslash` names
 * them `dir\` as Eclipse Kanto's own archives do (its unzipper creates a directory only for such
 * an entry and never creates parents); `none` writes no directory entries (the manifest still
 * lists them, so empty directories survive an import but not a plain `unzip`).
 */
export type DirectoryEntries = 'slash' | 'backslash' | 'none';

export interface ZipOptions {
  /** Absolute snapshot paths to export, each with everything below it; default: the whole snapshot. */
  include?: string[];
  /** The caller's description, copied into manifest.json. */
  metadata?: BackupMetadata;
  /**
   * A directory of the snapshot that becomes the ZIP's root. Default: the whole snapshot under
   * `content/`, with the snapshot's absolute paths minus the leading `/`.
   */
  root?: string;
  /** Default `slash`. */
  directoryEntries?: DirectoryEntries;
  /** Write manifest.json as the last entry (default true; Kanto's layout has none). */
  manifest?: boolean;
  /** `created_at` of the manifest; default now. */
  createdAt?: Date;
  signal?: AbortSignal;
}

/** Eclipse Kanto's archive layout: `root` at the ZIP's root, `dir\` entries, no manifest. */
export function kantoZipOptions(root: string, extra: Omit<ZipOptions, 'root' | 'directoryEntries' | 'manifest'> = {}): ZipOptions {
  return { ...extra, root, directoryEntries: 'backslash', manifest: false };
}

export interface ZipPlanEntry {
  /** Path relative to the ZIP's root without a trailing separator: the manifest's `path`. */
  path: string;
  type: ManifestFileType;
  /** File length, symlink target length, 0 for directories. */
  size: number;
  /** chmod bits (0 to 0o7777). */
  mode: number;
  /** As the snapshot recorded it (RFC 3339), for the manifest. */
  mtime: string;
  /** The same instant for the ZIP's own timestamps. */
  mtimeDate: Date;
  target?: string;
  /** The ZIP entry's name (`dir/`, `dir\`, `file`); undefined for a directory in the `none` layout. */
  entryName?: string;
  /** Data blobs of a file, in order. */
  content?: readonly ID[];
}

export interface ZipPlan {
  readonly repo: Repository;
  readonly snapshot: Snapshot;
  /** Content entries in ZIP order (parents before children); manifest.json is not among them. */
  readonly entries: readonly ZipPlanEntry[];
  /** Present when manifest.json is written: its fixed part and its exact length. */
  readonly manifest?: { readonly head: ManifestHead; readonly size: number };
  /** Exact length of the ZIP in bytes. */
  readonly size: number;
  /** Files and bytes of file content exported. */
  readonly files: number;
  readonly contentBytes: number;
  /** Snapshot paths left out because a ZIP cannot hold them (devices, FIFOs, sockets). */
  readonly skipped: readonly string[];
}

/** Default layout's folder for the snapshot's content. */
export const CONTENT_DIR = 'content';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The unix mode for a ZIP entry's external attributes: type bits plus permissions. */
export function unixMode(e: Pick<ZipPlanEntry, 'type' | 'mode'>): number {
  const type = e.type === 'dir' ? S_IFDIR : e.type === 'symlink' ? S_IFLNK : S_IFREG;
  return type | (e.mode & 0o7777);
}

const DEFAULT_MODES: Record<ManifestFileType, number> = { file: 0o644, dir: 0o755, symlink: 0o777 };

function normalizeSnapshotPath(p: string, what: string): string {
  if (!p.startsWith('/') || p.includes('\0')) throw new NotFoundInRepoError(`${what} ${JSON.stringify(p)} is not an absolute path`);
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function isWithin(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(dir + '/');
}

export async function planSnapshotZip(repo: Repository, snapshot: Snapshot, opts: ZipOptions = {}): Promise<ZipPlan> {
  const dirEntries = opts.directoryEntries ?? 'slash';
  const withManifest = opts.manifest ?? true;
  const root = normalizeSnapshotPath(opts.root ?? '/', 'root');
  const contentDir = opts.root === undefined ? CONTENT_DIR : '';
  const includes = (opts.include ?? []).map((p) => normalizeSnapshotPath(p, 'include path'));
  const matched = new Set<string>();
  const snapTime = parseTimeOrUndefined(snapshot.time) ?? new Date(0);

  const entries: ZipPlanEntry[] = [];
  const skipped: string[] = [];
  let files = 0;
  let contentBytes = 0;

  const entryName = (p: string, type: ManifestFileType): string | undefined => {
    if (type !== 'dir') return p;
    if (dirEntries === 'none') return undefined;
    return p + (dirEntries === 'backslash' ? '\\' : '/');
  };
  const add = (e: Omit<ZipPlanEntry, 'entryName'>): void => {
    const name = entryName(e.path, e.type);
    entries.push(name === undefined ? e : { ...e, entryName: name });
  };

  /** Whether `p` is exported whole, or lies on the way to something that is. */
  const selection = (p: string): 'all' | 'ancestor' | 'no' => {
    if (includes.length === 0) return 'all';
    let ancestor = false;
    for (const inc of includes) {
      if (isWithin(p, inc)) {
        matched.add(inc);
        return 'all';
      }
      if (inc.startsWith(p === '/' ? '/' : p + '/')) ancestor = true;
    }
    return ancestor ? 'ancestor' : 'no';
  };

  const loadTree = async (id: ID): Promise<TreeNode[]> => {
    if (opts.signal?.aborted) throw new CancelledError('export cancelled');
    return decodeTree(await repo.loadBlob('tree', id), id).nodes;
  };

  const walk = async (treeId: ID, snapDir: string, zipDir: string, selectedAbove: boolean): Promise<void> => {
    const seen = new Set<string>();
    for (const node of await loadTree(treeId)) {
      checkName(node.name, treeId, seen);
      const snapPath = snapDir === '/' ? `/${node.name}` : `${snapDir}/${node.name}`;
      const zipPath = zipDir === '' ? node.name : `${zipDir}/${node.name}`;
      const sel = selectedAbove ? 'all' : selection(snapPath);
      if (sel === 'no') continue;
      if (withManifest && zipPath === MANIFEST_NAME) {
        throw new BackupFileError('unsupported-name', `${snapPath} would take the place of ${MANIFEST_NAME} at the ZIP's root; export with a manifest needs another root`);
      }
      const common = { path: zipPath, ...times(node, snapTime) };
      if (node.type === 'dir') {
        if (!node.subtree) throw new IntegrityError(`directory ${snapPath} has no subtree`);
        add({ ...common, type: 'dir', size: 0, mode: modeOf(node, 'dir') });
        await walk(node.subtree, snapPath, zipPath, sel === 'all');
      } else if (sel !== 'all') {
        continue;
      } else if (node.type === 'file') {
        const content = node.content ?? [];
        const size = fileSize(repo, content, snapPath);
        if (node.size !== undefined && node.size !== size) throw new IntegrityError(`file ${snapPath}: size ${node.size} but its blobs hold ${size} bytes`);
        add({ ...common, type: 'file', size, mode: modeOf(node, 'file'), content });
        files++;
        contentBytes += size;
      } else if (node.type === 'symlink') {
        const target = node.linktarget ?? '';
        add({ ...common, type: 'symlink', size: Buffer.byteLength(target), mode: modeOf(node, 'symlink'), target });
      } else {
        skipped.push(snapPath);
      }
    }
  };

  const rootTree = await findRootTree(snapshot, root, loadTree);
  if (contentDir !== '') {
    add({ path: contentDir, type: 'dir', size: 0, mode: 0o755, mtime: formatTime(snapTime), mtimeDate: snapTime });
  }
  await walk(rootTree, root, contentDir, selection(root) === 'all');
  for (const inc of includes) {
    if (!matched.has(inc)) throw new NotFoundInRepoError(`${inc} is not in snapshot ${shortId(snapshot.id)}${root === '/' ? '' : ` below ${root}`}`);
  }

  let manifest: ZipPlan['manifest'];
  if (withManifest) {
    const head: ManifestHead = {
      created_at: (opts.createdAt ?? new Date()).toISOString(),
      snapshot: { id: snapshot.id, time: snapshot.time, hostname: snapshot.hostname ?? '', paths: [...snapshot.paths], tags: [...(snapshot.tags ?? [])] },
      // A copy: the manifest's length is fixed now, so later changes by the caller must not reach it.
      metadata: JSON.parse(JSON.stringify(opts.metadata ?? {})) as BackupMetadata,
      layout: { content_dir: contentDir, snapshot_root: root },
    };
    // Placeholder digests: the real ones have the same length (manifest.ts).
    manifest = { head, size: manifestLength(head, entries.map((e) => toManifestFile(e))) };
  }

  const sized = entries.filter((e) => e.entryName !== undefined).map((e) => ({
    nameBytes: Buffer.byteLength(e.entryName!),
    size: e.size,
    streamed: e.type === 'file',
  }));
  if (manifest) sized.push({ nameBytes: Buffer.byteLength(MANIFEST_NAME), size: manifest.size, streamed: true });
  return { repo, snapshot, entries, ...(manifest ? { manifest } : {}), size: zipSize(sized), files, contentBytes, skipped };
}

/** The manifest's view of a plan entry (digest filled in by the writer). */
export function toManifestFile(e: ZipPlanEntry, sha256?: string): ManifestFile {
  const f: ManifestFile = { path: e.path, type: e.type, size: e.size, mode: e.mode, mtime: e.mtime };
  if (sha256 !== undefined) f.sha256 = sha256;
  if (e.target !== undefined) f.target = e.target;
  return f;
}

/** Follows `root` down from the snapshot's tree; it must name a directory. */
async function findRootTree(snapshot: Snapshot, root: string, loadTree: (id: ID) => Promise<TreeNode[]>): Promise<ID> {
  let tree = snapshot.tree;
  if (root === '/') return tree;
  for (const name of root.slice(1).split('/')) {
    const node = (await loadTree(tree)).find((n) => n.name === name);
    if (!node || node.type !== 'dir' || !node.subtree) {
      throw new NotFoundInRepoError(`${root} is not a directory in snapshot ${shortId(snapshot.id)}`);
    }
    tree = node.subtree;
  }
  return tree;
}

/** Names a ZIP cannot carry as they are are refused rather than silently changed. */
function checkName(name: string, treeId: ID, seen: Set<string>): void {
  if (!isSafeName(name)) throw new IntegrityError(`tree ${treeId}: unsafe entry name ${JSON.stringify(name)}`);
  if (seen.has(name)) throw new IntegrityError(`tree ${treeId}: duplicate entry name ${JSON.stringify(name)}`);
  seen.add(name);
  // yazl turns `\` into `/`, and importers (ours included) refuse backslashes as path tricks.
  if (name.includes('\\')) throw new BackupFileError('unsupported-name', `${JSON.stringify(name)}: a ZIP entry name cannot hold a backslash`);
  if (LONE_SURROGATE.test(name)) throw new BackupFileError('unsupported-name', `${JSON.stringify(name)} is not valid Unicode`);
}

/** A name decoded from bytes that were not UTF-8 could hold these; they have no UTF-8 form. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function modeOf(node: TreeNode, type: ManifestFileType): number {
  return node.mode === undefined ? DEFAULT_MODES[type] : chmodBitsFromGoMode(node.mode);
}

function parseTimeOrUndefined(s: string): Date | undefined {
  try {
    const d = parseTime(s);
    return Number.isNaN(d.getTime()) ? undefined : d;
  } catch {
    return undefined;
  }
}

/** mtime as recorded when it parses (the manifest validator insists), else the snapshot's time. */
function times(node: TreeNode, snapTime: Date): { mtime: string; mtimeDate: Date } {
  const d = typeof node.mtime === 'string' ? parseTimeOrUndefined(node.mtime) : undefined;
  return d ? { mtime: node.mtime, mtimeDate: d } : { mtime: formatTime(snapTime), mtimeDate: snapTime };
}

function fileSize(repo: Repository, content: readonly ID[], snapPath: string): number {
  let size = 0;
  for (const id of content) {
    const n = repo.blobSize('data', id);
    if (n === undefined) throw new IntegrityError(`file ${snapPath}: data blob ${id} is not in the index`);
    size += n;
  }
  return size;
}
