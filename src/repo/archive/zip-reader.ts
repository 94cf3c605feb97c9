/**
 * Reading an uploaded ZIP with yauzl (random access on a file on disk): its central directory as
 * a list of checked entries, and streams of their data. Every way the file can be wrong ends as
 * a `BackupFileError` with a reason; yauzl's own errors are plain `Error`s told apart by message.
 *
 * Names are decoded here, not by yauzl: yauzl rewrites `\` to `/` before checking, and a name
 * that only looks safe after rewriting is exactly the kind of trick to refuse.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import { CancelledError, RepoError } from '../errors.js';
import { BackupFileError, type BackupFileReason } from './errors.js';
import { unsafePathReason } from './paths.js';
import { S_IFDIR, S_IFLNK, exceedsRatio, exceedsTotalRatio, isDeflated, unixTypeOf, unreadableEntry } from './zip-entry.js';

export type ZipEntryKind = 'file' | 'dir' | 'symlink';

export interface ZipItem {
  /** The entry's path, without the trailing `/` of a directory. */
  path: string;
  kind: ZipEntryKind;
  /** As the central directory declares them; the data is checked against these while read. */
  compressedSize: number;
  uncompressedSize: number;
  deflated: boolean;
  entry: yauzl.Entry;
}

export interface ZipListLimits {
  maxEntries: number;
  maxTotalBytes: number;
  /** Of each deflated entry, and of all entries together against the ZIP file's size. */
  maxRatio: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** yauzl's (and zlib's) errors, sorted into reasons; anything else (disk full, ...) passes through. */
export function classifyZipError(err: unknown, zipFile: string): unknown {
  if (err instanceof RepoError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) return new BackupFileError('corrupt', `damaged compressed data: ${err.message}`, { cause: err });
  if (typeof code === 'string') return err;
  const m = err.message;
  let reason: BackupFileReason = 'corrupt';
  if (m.startsWith('End of central directory record signature not found')) reason = looksLikeZipStart(zipFile) ? 'truncated' : 'not-a-zip';
  else if (/file data overflows file bounds|unexpected EOF/.test(m)) reason = 'truncated';
  else if (/too many bytes in the stream|not enough bytes in the stream|size mismatch for stored file/.test(m)) reason = 'size-mismatch';
  else if (/encrypt/i.test(m)) reason = 'encrypted';
  else if (/unsupported compression method/.test(m)) reason = 'unsupported-compression';
  return new BackupFileError(reason, reasonText(reason, m), { cause: err });
}

function reasonText(reason: BackupFileReason, detail: string): string {
  switch (reason) {
    case 'not-a-zip': return 'not a ZIP file';
    case 'truncated': return `the ZIP file is truncated (${detail})`;
    case 'size-mismatch': return `an entry's data does not match its declared size (${detail})`;
    default: return `damaged ZIP file (${detail})`;
  }
}

/** A file that starts like a ZIP but has no end record was cut short. */
function looksLikeZipStart(zipFile: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    fd = fs.openSync(zipFile, 'r');
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32LE(0) === 0x04034b50;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export class ZipReader {
  private constructor(private readonly zip: yauzl.ZipFile, private readonly zipFile: string) {}

  static async open(zipFile: string): Promise<ZipReader> {
    try {
      // decodeStrings off: raw names, checked by us. autoClose off: entries are read after listing.
      const zip = await yauzl.openPromise(zipFile, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
      return new ZipReader(zip, zipFile);
    } catch (err) {
      throw classifyZipError(err, zipFile);
    }
  }

  /** Entries the end record announces, before any is read. */
  get entryCount(): number {
    return this.zip.entryCount;
  }

  /** The central directory, every entry checked against the limits and the path rules. */
  async list(limits: ZipListLimits, signal?: AbortSignal): Promise<ZipItem[]> {
    if (this.zip.entryCount > limits.maxEntries) {
      throw new BackupFileError('too-many-entries', `the ZIP has ${this.zip.entryCount} entries; at most ${limits.maxEntries} are accepted`);
    }
    const items: ZipItem[] = [];
    const seen = new Set<string>();
    let total = 0;
    try {
      for await (const entry of this.zip.eachEntry()) {
        if (signal?.aborted) throw new CancelledError('import cancelled');
        const item = toItem(entry);
        if (seen.has(item.path)) throw new BackupFileError('duplicate-entry', `${JSON.stringify(item.path)} appears twice in the ZIP`);
        seen.add(item.path);
        total += item.uncompressedSize;
        if (total > limits.maxTotalBytes) {
          throw new BackupFileError('too-large', `the ZIP expands to more than ${limits.maxTotalBytes} bytes`);
        }
        if (exceedsRatio(item, limits.maxRatio)) {
          throw new BackupFileError('compression-ratio', `${JSON.stringify(item.path)} expands ${item.compressedSize} bytes to ${item.uncompressedSize} (more than ${limits.maxRatio} times)`);
        }
        if (exceedsTotalRatio(total, this.zip.fileSize, limits.maxRatio)) {
          throw new BackupFileError('compression-ratio', `the ZIP's entries expand to ${total} bytes or more, over ${limits.maxRatio} times its own size (${this.zip.fileSize} bytes)`);
        }
        items.push(item);
      }
    } catch (err) {
      throw classifyZipError(err, this.zipFile);
    }
    return items;
  }

  /** The entry's uncompressed data; yauzl fails the stream if it is longer or shorter than declared. */
  async open(item: ZipItem): Promise<Readable> {
    try {
      return await this.zip.openReadStreamPromise(item.entry);
    } catch (err) {
      throw classifyZipError(err, this.zipFile);
    }
  }

  classify(err: unknown): unknown {
    return classifyZipError(err, this.zipFile);
  }

  private closed = false;

  /** Idempotent: yauzl counts references and throws on a second close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zip.close();
  }
}

function toItem(entry: yauzl.Entry): ZipItem {
  let name: string;
  try {
    name = utf8.decode(entry.fileNameRaw);
  } catch {
    throw new BackupFileError('unsafe-path', `an entry name is not valid UTF-8 (${entry.fileNameRaw.toString('hex')})`);
  }
  const unreadable = unreadableEntry(entry, name);
  if (unreadable) throw new BackupFileError(unreadable.reason, unreadable.message);
  const unixType = unixTypeOf(entry);
  const slash = name.endsWith('/');
  const path = slash ? name.slice(0, -1) : name;
  const why = unsafePathReason(path);
  if (why) throw new BackupFileError('unsafe-path', `ZIP entry ${JSON.stringify(name)}: ${why}`);
  const kind: ZipEntryKind = slash || unixType === S_IFDIR ? 'dir' : unixType === S_IFLNK ? 'symlink' : 'file';
  if (kind === 'dir' && entry.uncompressedSize !== 0) {
    throw new BackupFileError('size-mismatch', `directory entry ${JSON.stringify(name)} carries ${entry.uncompressedSize} bytes of data`);
  }
  return {
    path,
    kind,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
    deflated: isDeflated(entry),
    entry,
  };
}
