/**
 * What a ZIP entry's central-directory record says about it, read the same way by every reader of
 * uploaded ZIPs (backup files here, Kanto's ZIPs in src/transfer): its Unix file type, whether its
 * data can be read at all, and whether it expands like a zip bomb.
 */
import type * as yauzl from 'yauzl';

const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
/** "Version made by" host 3: Unix, the only host whose external attributes hold a mode. */
export const HOST_UNIX = 3;
const STORE = 0;
const DEFLATE = 8;

/** Small entries compress well for innocent reasons (a 1 KiB run of spaces); ratios count above this size. */
export const RATIO_GRACE_BYTES = 1024 * 1024;

/** The file type a Unix host recorded (S_IFDIR, S_IFLNK, …); 0 when another host made the entry. */
export function unixTypeOf(entry: yauzl.Entry): number {
  return entry.versionMadeBy >> 8 === HOST_UNIX ? (entry.externalFileAttributes >>> 16) & S_IFMT : 0;
}

export function isDeflated(entry: yauzl.Entry): boolean {
  return entry.compressionMethod === DEFLATE;
}

/** Why the entry's data cannot be read here (encrypted, or neither stored nor deflated), or undefined. */
export function unreadableEntry(entry: yauzl.Entry, name: string): { reason: 'encrypted' | 'unsupported-compression'; message: string } | undefined {
  if (entry.isEncrypted()) return { reason: 'encrypted', message: `${JSON.stringify(name)} is encrypted` };
  if (entry.compressionMethod !== STORE && entry.compressionMethod !== DEFLATE) {
    return { reason: 'unsupported-compression', message: `${JSON.stringify(name)} uses compression method ${entry.compressionMethod}; only store and deflate are read` };
  }
  return undefined;
}

/**
 * Below this total, a whole file may expand any amount: a few megabytes of text compress far, and
 * cannot fill a disk. Above it the aggregate ratio counts, which per-entry ratios cannot replace:
 * many entries of exactly RATIO_GRACE_BYTES each expand a thousandfold without tripping them.
 */
export const TOTAL_RATIO_GRACE_BYTES = 64 * 1024 * 1024;

/** A ZIP file whose entries together expand to more than `maxRatio` times the file's own size (above the grace total). */
export function exceedsTotalRatio(uncompressedTotal: number, zipFileBytes: number, maxRatio: number): boolean {
  return uncompressedTotal > TOTAL_RATIO_GRACE_BYTES && uncompressedTotal > maxRatio * zipFileBytes;
}

/** A deflated entry above the grace size that expands more than `maxRatio` times. */
export function exceedsRatio(e: { deflated: boolean; compressedSize: number; uncompressedSize: number }, maxRatio: number): boolean {
  return e.deflated && e.uncompressedSize > RATIO_GRACE_BYTES && e.uncompressedSize > maxRatio * e.compressedSize;
}
