/**
 * Unpacking a ZIP into an existing directory with Kanto's semantics (research/KANTO.md 3.3): the
 * directory is not emptied first, entries with the same names replace what is there, everything
 * else stays. Unlike Kanto: parents are created as needed (so `zip -r` archives and archives
 * without directory entries work) and nothing can be written outside the directory:
 *
 * 1. The whole central directory is checked before anything is written: names (entry-names.ts),
 *    entry count, declared total size, compression ratio (zip bombs), encryption, method.
 * 2. Directories are walked component by component with lstat and created where missing; a
 *    symbolic link (or anything but a directory) on the way is refused, never followed.
 * 3. Each file is written to a fresh temporary name beside its target (O_CREAT|O_EXCL|O_NOFOLLOW)
 *    and renamed over it: a link at the target is replaced, not written through, and a failure
 *    leaves the old file whole. yauzl checks each entry's data against its declared size, so a
 *    lying header cannot inflate past the limits.
 *
 * File permissions come from the ZIP when a Unix host made it (setuid/setgid dropped), else an
 * existing file's are kept; directories are made 0755 (less the umask) and left as they are.
 *
 * Symbolic link entries (unix mode S_IFLNK) are written as regular files holding the link's
 * target, exactly what Kanto's own unzip does with them: a restore never creates a link, so no
 * later entry or reader can be led outside the directory by one.
 *
 * Node has no openat, so a local user racing the extraction (swapping a checked directory for a
 * link between lstat and open) is outside what this guards against; remote ZIP content is not.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';
import {
  DEFAULT_EXTRACT_LIMITS, HOST_UNIX, S_IFDIR, S_IFLNK, classifyZipError, exceedsRatio, exceedsTotalRatio, fdWriter, isDeflated, unixTypeOf, unreadableEntry,
} from '../repo/index.js';
import { parseEntryName, decodeEntryName } from './entry-names.js';
import { TransferCancelledError, TransferError, describeError, throwIfCancelled } from './errors.js';

export interface KantoZipLimits {
  /** Entries in the ZIP. */
  maxEntries: number;
  /** Uncompressed bytes of all entries together. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of one deflated entry above 1 MiB. */
  maxRatio: number;
}

export const DEFAULT_KANTO_ZIP_LIMITS: Readonly<KantoZipLimits> = Object.freeze({
  maxEntries: DEFAULT_EXTRACT_LIMITS.maxEntries,
  maxTotalBytes: DEFAULT_EXTRACT_LIMITS.maxTotalBytes,
  maxRatio: DEFAULT_EXTRACT_LIMITS.maxRatio,
});

export interface ExtractKantoZipOptions extends Partial<KantoZipLimits> {
  signal?: AbortSignal;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

interface PlannedEntry {
  readonly entry: yauzl.Entry;
  readonly name: string;
  readonly components: readonly string[];
  readonly isDirectory: boolean;
  /** Permission bits the ZIP records (Unix hosts only), or undefined. */
  readonly permissions: number | undefined;
}

/** Unpacks a Kanto-style ZIP into the existing directory `dir`. */
export async function extractKantoZip(zipFile: string, dir: string, c: ExtractKantoZipOptions = {}): Promise<{ files: number; directories: number }> {
  const limits: KantoZipLimits = {
    maxEntries: c.maxEntries ?? DEFAULT_KANTO_ZIP_LIMITS.maxEntries,
    maxTotalBytes: c.maxTotalBytes ?? DEFAULT_KANTO_ZIP_LIMITS.maxTotalBytes,
    maxRatio: c.maxRatio ?? DEFAULT_KANTO_ZIP_LIMITS.maxRatio,
  };
  const root = targetRoot(dir);
  throwIfCancelled(c.signal, 'extraction');
  let zip: yauzl.ZipFile;
  try {
    // Raw names (decoded and checked here: yauzl would rewrite `\` first); entries read after listing.
    zip = await yauzl.openPromise(zipFile, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (err) {
    throw zipError(err, zipFile);
  }
  try {
    const planned = await plan(zip, limits, c.signal);
    return await unpack(zip, planned, root, c.signal);
  } catch (err) {
    if (err instanceof TransferError) throw err;
    if (c.signal?.aborted) throw new TransferCancelledError('extraction cancelled', { cause: err });
    throw zipError(err, zipFile);
  } finally {
    zip.close();
  }
}

/** The real path of the target directory, which must exist (as Kanto requires). */
function targetRoot(dir: string): string {
  let root: string;
  try {
    root = fs.realpathSync(dir);
  } catch (err) {
    throw new TransferError(`cannot restore into ${dir}: ${describeError(err)}`, { cause: err });
  }
  if (!fs.statSync(root).isDirectory()) throw new TransferError(`cannot restore into ${dir}: not a directory`);
  return root;
}

/** ZIP structure errors, worded by the engine's reader; anything else (disk full, EACCES) as it is. */
function zipError(err: unknown, zipFile: string): TransferError {
  const classified = classifyZipError(err, zipFile);
  const text = classified instanceof Error ? classified.message : String(classified);
  return new TransferError(`cannot unpack ${path.basename(zipFile)}: ${text}`, { cause: err });
}

async function plan(zip: yauzl.ZipFile, limits: KantoZipLimits, signal: AbortSignal | undefined): Promise<PlannedEntry[]> {
  if (zip.entryCount > limits.maxEntries) {
    throw new TransferError(`refusing the ZIP: it has ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted`);
  }
  const planned: PlannedEntry[] = [];
  let total = 0;
  for await (const entry of zip.eachEntry()) {
    throwIfCancelled(signal, 'extraction');
    const name = decodeEntryName(entry.fileNameRaw);
    const unreadable = unreadableEntry(entry, name);
    if (unreadable) throw new TransferError(`refusing the ZIP: ${unreadable.message}`);
    const parsed = parseEntryName(name);
    const isDirectory = parsed.isDirectory || unixTypeOf(entry) === S_IFDIR;
    if (isDirectory && entry.uncompressedSize !== 0) {
      throw new TransferError(`refusing the ZIP: directory entry ${JSON.stringify(name)} carries ${entry.uncompressedSize} bytes of data`);
    }
    total += entry.uncompressedSize;
    if (total > limits.maxTotalBytes) throw new TransferError(`refusing the ZIP: it expands to more than ${limits.maxTotalBytes} bytes`);
    // Entries under the per-entry grace size escape the ratio below one by one, never all together.
    if (exceedsTotalRatio(total, zip.fileSize, limits.maxRatio)) {
      throw new TransferError(`refusing the ZIP (a zip bomb?): its ${zip.fileSize} bytes expand to more than ${total}, more than ${limits.maxRatio} times`);
    }
    if (exceedsRatio({ deflated: isDeflated(entry), compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize }, limits.maxRatio)) {
      throw new TransferError(
        `refusing the ZIP (a zip bomb?): ${JSON.stringify(name)} expands ${entry.compressedSize} bytes to ${entry.uncompressedSize}, more than ${limits.maxRatio} times`,
      );
    }
    planned.push({ entry, name, components: parsed.components, isDirectory, permissions: permissionsOf(entry) });
  }
  return planned;
}

async function unpack(zip: yauzl.ZipFile, planned: readonly PlannedEntry[], root: string, signal: AbortSignal | undefined): Promise<{ files: number; directories: number }> {
  const dirs = new DirectoryMaker(root);
  let files = 0;
  for (const p of planned) {
    throwIfCancelled(signal, 'extraction');
    if (p.isDirectory) {
      dirs.ensure(p.components);
      continue;
    }
    const parent = dirs.ensure(p.components.slice(0, -1));
    await writeEntry(zip, p, parent, signal);
    files++;
  }
  return { files, directories: dirs.count };
}

/** Creates directories below the root one component at a time, never through a symlink. */
class DirectoryMaker {
  private readonly checked = new Map<string, string>();
  constructor(private readonly root: string) {}

  /** Directories the ZIP named or implied (each counted once), excluding the root. */
  get count(): number {
    return this.checked.size;
  }

  /** Makes sure `components` is a directory below the root; returns its absolute path. */
  ensure(components: readonly string[]): string {
    let abs = this.root;
    for (let i = 0; i < components.length; i++) {
      const rel = components.slice(0, i + 1).join('/');
      const known = this.checked.get(rel);
      if (known !== undefined) {
        abs = known;
        continue;
      }
      abs = path.join(abs, components[i]!);
      this.check(abs, rel);
      this.checked.set(rel, abs);
    }
    return abs;
  }

  private check(abs: string, rel: string): void {
    let st = lstatOrUndefined(abs);
    if (st === undefined) {
      try {
        fs.mkdirSync(abs, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TransferError(`cannot create directory ${rel}: ${describeError(err)}`, { cause: err });
      }
      st = lstatOrUndefined(abs);
    }
    if (st?.isSymbolicLink()) throw new TransferError(`refusing to write through the symbolic link ${JSON.stringify(rel)} in the target directory`);
    if (!st?.isDirectory()) throw new TransferError(`cannot restore below ${JSON.stringify(rel)}: it exists in the target directory and is not a directory`);
  }
}

function lstatOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TransferError(`cannot inspect ${abs}: ${describeError(err)}`, { cause: err });
  }
}

/** Writes one file entry beside its target and renames it into place. */
async function writeEntry(zip: yauzl.ZipFile, p: PlannedEntry, parent: string, signal: AbortSignal | undefined): Promise<void> {
  const rel = p.components.join('/');
  const target = path.join(parent, p.components[p.components.length - 1]!);
  const existing = lstatOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new TransferError(`cannot restore the file ${JSON.stringify(rel)}: a directory of that name exists in the target directory`);
  }
  // Kanto truncates a file in place, so it keeps its mode; a ZIP from a Unix host knows better.
  const mode = p.permissions ?? (existing?.isFile() ? existing.mode & 0o777 : undefined);
  const temp = path.join(parent, `.coffer-restore-${randomBytes(8).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  } catch (err) {
    throw new TransferError(`cannot create a file in ${path.dirname(rel) === '.' ? 'the target directory' : JSON.stringify(path.dirname(rel))}: ${describeError(err)}`, { cause: err });
  }
  let renamed = false;
  try {
    const data = await zip.openReadStreamPromise(p.entry);
    await pipeline(data, new SizeGuard(p.entry.uncompressedSize, p.name), fdWriter(fd), ...(signal ? [{ signal }] : []));
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(temp, target);
    renamed = true;
  } catch (err) {
    if (signal?.aborted) throw new TransferCancelledError('extraction cancelled', { cause: err });
    if (err instanceof TransferError) throw err;
    const classified = classifyZipError(err, '');
    const text = classified instanceof Error ? classified.message : String(classified);
    throw new TransferError(`cannot restore ${JSON.stringify(rel)}: ${text}`, { cause: err });
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (!renamed) fs.rmSync(temp, { force: true });
  }
}

/**
 * The entry's permission bits when a Unix host made it (Info-ZIP, Coffer), without setuid, setgid
 * and sticky: a restored file must not become a setuid program of the server's user. Kanto's own
 * ZIPs record none (Go's zip.Writer.Create), so their files get the default mode.
 */
function permissionsOf(entry: yauzl.Entry): number | undefined {
  if (entry.versionMadeBy >> 8 !== HOST_UNIX) return undefined;
  // A link's 0777 says nothing about the file it becomes here.
  if (unixTypeOf(entry) === S_IFLNK) return undefined;
  const bits = (entry.externalFileAttributes >>> 16) & 0o777;
  return bits === 0 ? undefined : bits;
}

/** Belt and braces beside yauzl's own size check: no entry writes more than it declared. */
class SizeGuard extends Transform {
  private count = 0;
  constructor(private readonly declared: number, private readonly name: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.declared) cb(new TransferError(`refusing the ZIP: ${JSON.stringify(this.name)} inflates to more than its declared ${this.declared} bytes`));
    else cb(null, chunk);
  }
}
