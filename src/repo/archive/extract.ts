/**
 * Importing a backup file: an uploaded ZIP (already streamed to a file on disk) is checked and
 * unpacked into an empty directory, or refused with a `BackupFileError` and the directory emptied
 * again. The order of work is what makes it safe:
 *
 * 1. Central directory: every name checked (no `..`, absolute, backslash, NUL), no duplicates, no
 *    encryption, entry count, declared total and compression ratio within the limits.
 * 2. manifest.json: read (bounded), validated field by field; its list must be a tree of safe
 *    paths whose symlinks stay inside. The ZIP's entries must be exactly the manifest's.
 * 3. Directories created by us, parents first, from the manifest; then files in ZIP order, each
 *    opened with O_CREAT|O_EXCL|O_NOFOLLOW and hashed while written, with actual bytes counted
 *    against the declared size (headers can lie); then symlinks, last, so that nothing is ever
 *    written through one; then modes and times, directories deepest first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, RepoError } from '../errors.js';
import { fdWriter } from '../fd-writer.js';
import { fileTimesAddon, setFdTimes, setFileTimes } from '../file-times.js';
import { parseTimeSpec } from '../time.js';
import { BackupFileError } from './errors.js';
import { type BackupManifest, type ManifestFile, MANIFEST_NAME } from './manifest.js';
import { parseManifest } from './manifest-parse.js';
import { checkEmptyTarget, emptyDirectory } from './target-dir.js';
import { type ZipItem, ZipReader } from './zip-reader.js';

export interface ExtractLimits {
  /** Entries in the ZIP, and items in its manifest. */
  maxEntries: number;
  /** Uncompressed bytes of all entries together, as declared and as actually inflated. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed size of one deflated entry (above 1 MiB): a zip bomb beyond. */
  maxRatio: number;
  /** manifest.json is parsed in memory. */
  maxManifestBytes: number;
}

export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  // yauzl keeps every central directory entry in memory (a few hundred bytes each) while importing.
  maxEntries: 500_000,
  maxTotalBytes: 1024 ** 4,
  maxRatio: 100,
  maxManifestBytes: 64 * 1024 * 1024,
});

export interface ExtractOptions extends Partial<ExtractLimits> {
  signal?: AbortSignal;
  /**
   * Create symlinks whose targets lead outside the target directory (absolute, or climbing above
   * it) instead of refusing the file. Off by default. Backups of system trees hold such links
   * (`/etc/localtime -> /usr/share/zoneinfo/...`), and the import itself never follows a link;
   * whoever reads the tree afterwards must not follow them either. Entries below a symlink are
   * refused either way.
   */
  allowExternalSymlinks?: boolean;
  /**
   * Called with the uncompressed total the checked ZIP declares, before anything is written (a
   * caller refuses a file that will not fit on its disk). What it throws ends the import as it is.
   */
  beforeUnpack?: (declaredBytes: number) => Promise<void>;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/**
 * Permission bits applied on import: setuid and setgid are dropped, as Info-ZIP's unzip does by
 * default: an uploaded file should not become a setuid program of the server's user.
 */
const IMPORT_MODE_MASK = 0o1777;

/** Unpacks `zipFile` into `targetDir` (existing, empty) and returns its validated manifest. */
export async function extractBackupZip(zipFile: string, targetDir: string, opts: ExtractOptions = {}): Promise<BackupManifest> {
  const limits: ExtractLimits = { ...DEFAULT_EXTRACT_LIMITS };
  for (const key of Object.keys(DEFAULT_EXTRACT_LIMITS) as (keyof ExtractLimits)[]) {
    const v = opts[key];
    if (v !== undefined) limits[key] = v;
  }
  const target = path.resolve(targetDir);
  checkEmptyTarget(target);
  // Before any work: without the addon no entry's time could be set.
  fileTimesAddon();
  const reader = await ZipReader.open(zipFile);
  try {
    return await extractInto(reader, target, limits, opts);
  } catch (err) {
    reader.close();
    const reported = reader.classify(err);
    try {
      emptyDirectory(target);
    } catch (cleanupError) {
      throw new RepoError(`import failed and ${target} could not be emptied: ${(cleanupError as Error).message}`, { cause: reported });
    }
    throw reported;
  } finally {
    reader.close();
  }
}

async function extractInto(reader: ZipReader, target: string, limits: ExtractLimits, opts: ExtractOptions): Promise<BackupManifest> {
  const signal = opts.signal;
  const items = await reader.list(limits, signal);
  const manifest = await readManifest(reader, items, limits, opts.allowExternalSymlinks ?? false);
  const content = items.filter((i) => i.path !== MANIFEST_NAME);
  const pairs = matchManifest(content, manifest);
  // Headers can lie about sizes, but inflating past them is refused: the declared total bounds what lands on disk.
  await opts.beforeUnpack?.(items.reduce((sum, i) => sum + i.uncompressedSize, 0));
  const abs = (p: string): string => {
    const a = path.join(target, p);
    // Paths were checked to be plain relative names; this is the last line of defence.
    if (!a.startsWith(target + path.sep)) throw new BackupFileError('unsafe-path', `${JSON.stringify(p)} leads outside the target`);
    return a;
  };
  const cancelled = (): void => {
    if (signal?.aborted) throw new CancelledError('import cancelled');
  };

  const dirs = manifest.files.filter((f) => f.type === 'dir').sort((a, b) => (a.path < b.path ? -1 : 1));
  // A parent's path is a prefix of its child's, so sorted order creates parents first.
  for (const d of dirs) fs.mkdirSync(abs(d.path), { mode: 0o700 });

  for (const { item, file } of pairs) {
    if (file.type !== 'file') continue;
    cancelled();
    await writeFile(reader, item, file, abs(file.path));
  }

  const links: ManifestFile[] = [];
  for (const { item, file } of pairs) {
    if (file.type !== 'symlink') continue;
    cancelled();
    const data = await readEntry(reader, item, file.size);
    if (!data.equals(Buffer.from(file.target!))) {
      throw new BackupFileError('checksum-mismatch', `symlink ${JSON.stringify(file.path)}: the ZIP's target differs from the manifest's`);
    }
    fs.symlinkSync(file.target!, abs(file.path));
    links.push(file);
  }

  for (const l of links) {
    const t = parseTimeSpec(l.mtime);
    setFileTimes(abs(l.path), t, t);
  }
  for (let i = dirs.length - 1; i >= 0; i--) {
    const d = dirs[i]!;
    fs.chmodSync(abs(d.path), d.mode & IMPORT_MODE_MASK);
    const t = parseTimeSpec(d.mtime);
    setFileTimes(abs(d.path), t, t);
  }
  return manifest;
}

async function readManifest(reader: ZipReader, items: readonly ZipItem[], limits: ExtractLimits, allowExternalSymlinks: boolean): Promise<BackupManifest> {
  const item = items.find((i) => i.path === MANIFEST_NAME);
  if (!item) throw new BackupFileError('manifest-missing', `the ZIP has no ${MANIFEST_NAME}: not a Coffer backup file`);
  if (item.kind !== 'file') throw new BackupFileError('manifest-invalid', `${MANIFEST_NAME} is not a file`);
  if (item.uncompressedSize > limits.maxManifestBytes) {
    throw new BackupFileError('manifest-invalid', `${MANIFEST_NAME} is ${item.uncompressedSize} bytes; at most ${limits.maxManifestBytes} are read`);
  }
  const data = await readEntry(reader, item, item.uncompressedSize);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new BackupFileError('manifest-invalid', `${MANIFEST_NAME} is not UTF-8`);
  }
  const manifest = parseManifest(text, { allowExternalSymlinks });
  if (manifest.files.length > limits.maxEntries) {
    throw new BackupFileError('too-many-entries', `${MANIFEST_NAME} lists ${manifest.files.length} entries; at most ${limits.maxEntries} are accepted`);
  }
  return manifest;
}

/** Pairs every ZIP entry with its manifest item; both sides must agree on kind, size and membership. */
function matchManifest(items: readonly ZipItem[], manifest: BackupManifest): { item: ZipItem; file: ManifestFile }[] {
  const byPath = new Map(manifest.files.map((f) => [f.path, f] as const));
  const pairs: { item: ZipItem; file: ManifestFile }[] = [];
  const present = new Set<string>();
  for (const item of items) {
    const file = byPath.get(item.path);
    if (!file) throw new BackupFileError('unexpected-entry', `${JSON.stringify(item.path)} is in the ZIP but not in ${MANIFEST_NAME}`);
    if (file.type !== item.kind) {
      throw new BackupFileError('type-mismatch', `${JSON.stringify(item.path)} is a ${item.kind} in the ZIP but a ${file.type} in ${MANIFEST_NAME}`);
    }
    if (file.size !== item.uncompressedSize) {
      throw new BackupFileError('size-mismatch', `${JSON.stringify(item.path)} is ${item.uncompressedSize} bytes in the ZIP but ${file.size} in ${MANIFEST_NAME}`);
    }
    present.add(item.path);
    pairs.push({ item, file });
  }
  for (const f of manifest.files) {
    // Directories may be implicit: `zip -D` and Coffer's `none` layout write no entries for them.
    if (f.type !== 'dir' && !present.has(f.path)) {
      throw new BackupFileError('missing-entry', `${MANIFEST_NAME} lists ${JSON.stringify(f.path)} but the ZIP does not hold it`);
    }
  }
  return pairs;
}

/** Counts and hashes what passes; refuses a byte beyond the expected length. */
class Verifier extends Transform {
  count = 0;
  private readonly hash: Hash = createHash('sha256');
  constructor(private readonly expected: number, private readonly label: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expected) {
      cb(new BackupFileError('size-mismatch', `${JSON.stringify(this.label)} inflates to more than its ${this.expected} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

async function writeFile(reader: ZipReader, item: ZipItem, file: ManifestFile, abs: string): Promise<void> {
  // O_EXCL|O_NOFOLLOW: never reuse or follow whatever might already sit at this path.
  const fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    const verify = new Verifier(file.size, file.path);
    await pipeline(await reader.open(item), verify, fdWriter(fd));
    if (verify.count !== file.size) {
      throw new BackupFileError('size-mismatch', `${JSON.stringify(file.path)} holds ${verify.count} bytes; ${file.size} were declared`);
    }
    if (verify.digest() !== file.sha256) {
      throw new BackupFileError('checksum-mismatch', `${JSON.stringify(file.path)}: SHA-256 differs from ${MANIFEST_NAME}`);
    }
    fs.fchmodSync(fd, file.mode & IMPORT_MODE_MASK);
    const t = parseTimeSpec(file.mtime);
    setFdTimes(fd, t, t);
  } finally {
    fs.closeSync(fd);
  }
}

/** A small entry's data in memory, refused past `max` bytes whatever its header says. */
async function readEntry(reader: ZipReader, item: ZipItem, max: number): Promise<Buffer> {
  const verify = new Verifier(max, item.path);
  const chunks: Buffer[] = [];
  verify.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(await reader.open(item), verify);
  return Buffer.concat(chunks);
}
