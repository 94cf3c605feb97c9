/**
 * Verifies one pack held in memory, as `check --read-data` does: its hash against its name, its
 * header against the index, and every blob the index lists in it (decrypted, decompressed,
 * hashed). Pure function of the key and the bytes, so it runs in worker threads.
 */
import { CRYPTO_OVERHEAD, type MasterKey, open } from './crypto.js';
import { decodeBlobInPlace } from './blob-codec.js';
import { IntegrityError } from './errors.js';
import { type ID, hashId } from './ids.js';
import { type PackedBlob, decodeHeader } from './pack.js';

// Header entry sizes (design.rst "Pack Format") and the fixed overhead of a pack's header.
const ENTRY_PLAIN = 1 + 4 + 32;
const ENTRY_COMPRESSED = 1 + 4 + 4 + 32;

/** Size of the sealed header plus its length field for these blobs. */
export function headerSizeFor(blobs: readonly PackedBlob[]): number {
  let size = CRYPTO_OVERHEAD + 4;
  for (const b of blobs) size += b.uncompressedLength > 0 ? ENTRY_COMPRESSED : ENTRY_PLAIN;
  return size;
}


export function blobKey(b: PackedBlob): string {
  return `${b.type}:${b.id}:${b.offset}:${b.length}:${b.uncompressedLength}`;
}

export function describeBlob(b: PackedBlob): string {
  return `${b.type} blob ${b.id} (offset ${b.offset}, length ${b.length})`;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Drops the subject from a thrown message when the problem's own text already names it. */
export function withoutPrefix(message: string, prefix: string): string {
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}


/** Reads and authenticates the header of a pack held in memory. */
function headerFromPack(key: MasterKey, buf: Buffer): PackedBlob[] {
  const what = 'pack header';
  if (buf.length < 4 + CRYPTO_OVERHEAD) throw new IntegrityError(`file too small for a pack (${buf.length} bytes)`);
  const headerLen = buf.readUInt32LE(buf.length - 4);
  if (headerLen < CRYPTO_OVERHEAD || headerLen + 4 > buf.length) {
    throw new IntegrityError(`${what}: invalid header length ${headerLen} for a file of ${buf.length} bytes`);
  }
  const dataEnd = buf.length - 4 - headerLen;
  const blobs = decodeHeader(open(key, buf.subarray(dataEnd, buf.length - 4), what), what);
  const end = blobs.length > 0 ? blobs.at(-1)!.offset + blobs.at(-1)!.length : 0;
  if (end !== dataEnd) throw new IntegrityError(`${what} describes ${end} bytes of blobs, file has ${dataEnd}`);
  return blobs;
}


/** Returns the problems found (empty when the pack is sound). Decrypts `buf` in place. */
export function verifyPack(key: MasterKey, packId: ID, buf: Buffer, indexBlobs: readonly PackedBlob[], scratch: { buf: Buffer },
  afterBlob: (bytes: number) => void = () => undefined): string[] {
  const problems: string[] = [];
  const sorted = [...indexBlobs].sort((a, b) => a.offset - b.offset);
  if (sorted.length === 0) problems.push('is empty in the index');
  let end = 0;
  for (const b of sorted) {
    if (b.offset !== end) {
      problems.push('index for the pack contains gaps or overlapping blobs');
      break;
    }
    end = b.offset + b.length;
  }

  const actual = hashId(buf);
  if (actual !== packId) problems.push(`content does not match its name (SHA-256 is ${actual})`);

  // The header, compared entry by entry with the index.
  try {
    const header = headerFromPack(key, buf);
    const headerSize = headerSizeFor(header);
    const expected = headerSizeFor(indexBlobs);
    if (headerSize !== expected) problems.push(`header size does not match the index: header has ${headerSize} bytes, index implies ${expected}`);
    const inIndex = new Map<string, number>();
    for (const b of indexBlobs) inIndex.set(blobKey(b), (inIndex.get(blobKey(b)) ?? 0) + 1);
    for (const b of header) {
      const k = blobKey(b);
      const n = inIndex.get(k);
      if (n === undefined) {
        problems.push(`${describeBlob(b)} from the pack header is not in the index or its position is incorrect`);
        continue;
      }
      if (n === 1) inIndex.delete(k);
      else inIndex.set(k, n - 1);
    }
    for (const b of indexBlobs) {
      if (inIndex.has(blobKey(b))) problems.push(`${describeBlob(b)} listed in the index is not in the pack header`);
    }
  } catch (err) {
    problems.push(errorMessage(err));
  }

  // Every blob the index points into this pack: what restore and prune rely on.
  for (const b of sorted) {
    if (b.offset + b.length > buf.length) {
      problems.push(`${describeBlob(b)} extends beyond the end of the file (${buf.length} bytes)`);
      continue;
    }
    try {
      decodeBlobInPlace(key, buf, b.offset, b, scratch);
      afterBlob(b.length);
    } catch (err) {
      problems.push(`${describeBlob(b)}: ${withoutPrefix(errorMessage(err), `blob ${b.id}: `)}`);
    }
  }
  return problems;
}
