/** Test utilities for backup files (imported by tests only). */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { ZipFile } from 'yazl';
import { backup } from '../archiver.js';
import type { Repository } from '../repository.js';
import type { Snapshot } from '../snapshot.js';
import { localRepo } from '../testing.js';
import { type ManifestFile, type ManifestHead, manifestChunks } from './manifest.js';

export { tempDir } from '../testing.js';

/** Backs `src` up into a fresh repository in `work` and returns the snapshot. */
export async function snapshotOf(work: string, src: string): Promise<{ repo: Repository; snapshot: Snapshot }> {
  const repo = await localRepo(work);
  const r = await backup(repo, { paths: [src], workers: 1 });
  return { repo, snapshot: await repo.loadSnapshot(r.snapshotId) };
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** Modification time in whole milliseconds (undefined for symlinks). */
  mtimeMs?: number;
}

/** Every entry below `root` (relative paths), never following symlinks. */
export function describeTree(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const visit = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const e: TreeEntry = {
        type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
        mode: st.isSymbolicLink() ? 0 : st.mode & 0o7777,
      };
      if (st.isFile()) {
        e.size = st.size;
        e.sha256 = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
      }
      if (st.isSymbolicLink()) e.target = fs.readlinkSync(p);
      else e.mtimeMs = Math.floor(st.mtimeMs);
      out[r] = e;
      if (st.isDirectory()) visit(p, r);
    }
  };
  visit(root, '');
  return out;
}

/** `describeTree` with times dropped, or rounded down to `resolutionMs`. */
export function withTimes(tree: Record<string, TreeEntry>, resolutionMs: number | undefined): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  for (const [k, v] of Object.entries(tree)) {
    const { mtimeMs, ...rest } = v;
    out[k] = resolutionMs === undefined || mtimeMs === undefined ? rest : { ...rest, mtimeMs: Math.floor(mtimeMs / resolutionMs) * resolutionMs };
  }
  return out;
}

/** Every path under `dir`, relative, sorted: to prove nothing appeared where it must not. */
export function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d)) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (fs.lstatSync(path.join(d, n)).isDirectory()) walk(path.join(d, n), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** A sink that only counts. */
export function countingSink(): Writable & { bytes: number } {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      sink.bytes += chunk.length;
      cb();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

/** Fails loudly when a tool the tests check against is missing (.ci/run installs them). */
export function requireTools(...tools: string[]): void {
  for (const tool of tools) {
    if (spawnSync(tool, ['-v']).status !== 0) throw new Error(`these tests need \`${tool}\` (Debian package ${tool})`);
  }
}

export function run(cmd: string, args: string[], cwd?: string): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? 128, out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}` };
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const EPOCH = '2024-01-02T03:04:05Z';

/** A manifest file item with defaults. */
export function mfile(p: string, type: ManifestFile['type'], fields: Partial<ManifestFile> = {}): ManifestFile {
  return { path: p, type, size: 0, mode: type === 'dir' ? 0o755 : 0o644, mtime: EPOCH, ...fields };
}

/** A manifest item for a file holding `data`, digest included. */
export function mdata(p: string, data: string | Buffer): ManifestFile {
  return mfile(p, 'file', { size: Buffer.byteLength(data), sha256: sha256(data) });
}

/** manifest.json text for hand-made ZIPs. */
export function manifestText(files: ManifestFile[], head: Partial<ManifestHead> = {}): string {
  const h: ManifestHead = {
    created_at: EPOCH,
    snapshot: { id: 'f'.repeat(64), time: EPOCH, hostname: 'test', paths: ['/x'], tags: [] },
    metadata: {},
    layout: { content_dir: '', snapshot_root: '/x' },
    ...head,
  };
  return [...manifestChunks(h, files)].join('');
}

export interface TestZipEntry {
  /** Written exactly, even names yazl refuses (`../x`, `/etc/x`, backslashes). */
  name: string;
  kind?: 'file' | 'dir' | 'symlink';
  data?: string | Buffer;
  /** A stream of this many bytes instead of `data` (for big entries). */
  stream?: () => Readable;
  size?: number;
  compress?: boolean;
  mode?: number;
}

/**
 * Builds a ZIP with yazl. Names yazl would refuse or rewrite are written under a placeholder of
 * the same length and swapped in afterwards (local header and central directory alike).
 */
export async function buildZip(file: string, entries: TestZipEntry[]): Promise<void> {
  const zip = new ZipFile();
  const swaps: [Buffer, Buffer][] = [];
  entries.forEach((e, i) => {
    const kind = e.kind ?? 'file';
    const wanted = Buffer.from(e.name);
    let name = e.name;
    const plain = !/(^|\/)\.\.(\/|$)|^\/|\\|\0|^[a-zA-Z]:/.test(e.name);
    if (!plain) {
      const letter = String.fromCharCode(0x41 + (i % 26));
      const tail = kind === 'dir' ? '/' : '';
      name = ('~' + letter.repeat(wanted.length)).slice(0, wanted.length - tail.length) + tail;
      swaps.push([Buffer.from(name), wanted]);
    }
    const mode = e.mode ?? (kind === 'dir' ? 0o40755 : kind === 'symlink' ? 0o120777 : 0o100644);
    const compress = e.compress ?? false;
    if (kind === 'dir') zip.addEmptyDirectory(name, { mode });
    else if (e.stream) zip.addReadStream(e.stream(), name, { mode, compress, ...(e.size !== undefined ? { size: e.size } : {}) });
    else zip.addBuffer(Buffer.from(e.data ?? ''), name, { mode, compress });
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as Readable) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  for (const [from, to] of swaps) {
    for (let at = buf.indexOf(from); at >= 0; at = buf.indexOf(from, at + 1)) to.copy(buf, at);
  }
  fs.writeFileSync(file, buf);
}

/** Offset of the central directory record of entry `name` in a ZIP held in memory. */
export function centralRecord(buf: Buffer, name: string): number {
  const wanted = Buffer.from(name);
  for (let at = buf.indexOf(CENTRAL_SIG); at >= 0; at = buf.indexOf(CENTRAL_SIG, at + 1)) {
    const len = buf.readUInt16LE(at + 28);
    if (len === wanted.length && buf.subarray(at + 46, at + 46 + len).equals(wanted)) return at;
  }
  throw new Error(`no central directory record for ${name}`);
}
const CENTRAL_SIG = Buffer.from([0x50, 0x4b, 0x01, 0x02]);

/** A stream of `size` zero bytes, produced in 1 MiB pieces. */
export function zeros(size: number): Readable {
  const piece = Buffer.alloc(1024 * 1024);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, piece.length);
      left -= n;
      this.push(n === piece.length ? piece : piece.subarray(0, n));
    },
  });
}
