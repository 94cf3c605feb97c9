/**
 * Pack files (design.rst "Pack Format"):
 * `EncryptedBlob1 || ... || EncryptedBlobN || EncryptedHeader || Header_Length(u32 LE)`.
 * Header entries: type byte, encrypted length (u32 LE), for compressed blobs the plaintext length
 * (u32 LE), then the 32-byte plaintext SHA-256.
 */
import type { Backend } from '../storage/index.js';
import { CRYPTO_OVERHEAD, type MasterKey, open, seal } from './crypto.js';
import { IntegrityError } from './errors.js';
import type { ID } from './ids.js';

export type BlobType = 'data' | 'tree';

/** One blob's place in a pack, as index files record it. */
export interface PackedBlob {
  readonly id: ID;
  readonly type: BlobType;
  readonly offset: number;
  /** Length of the encrypted blob in the pack. */
  readonly length: number;
  /** Plaintext length for compressed blobs; 0 when the blob is stored uncompressed. */
  readonly uncompressedLength: number;
}

const ENTRY_PLAIN = 1 + 4 + 32;
const ENTRY_COMPRESSED = 1 + 4 + 4 + 32;
/** restic refuses headers beyond this; so do we, so a corrupt length cannot make us allocate gigabytes. */
const MAX_HEADER_SIZE = 16 * 1024 * 1024 + CRYPTO_OVERHEAD;

function typeCode(type: BlobType, compressed: boolean): number {
  return (type === 'tree' ? 1 : 0) | (compressed ? 2 : 0);
}

/** Plaintext length of a blob: what restore and check must produce. */
export function plaintextLength(b: PackedBlob): number {
  return b.uncompressedLength > 0 ? b.uncompressedLength : b.length - CRYPTO_OVERHEAD;
}

export function encodeHeader(blobs: readonly PackedBlob[]): Buffer {
  let size = 0;
  for (const b of blobs) size += b.uncompressedLength > 0 ? ENTRY_COMPRESSED : ENTRY_PLAIN;
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  for (const b of blobs) {
    const compressed = b.uncompressedLength > 0;
    out[p++] = typeCode(b.type, compressed);
    out.writeUInt32LE(b.length, p);
    p += 4;
    if (compressed) {
      out.writeUInt32LE(b.uncompressedLength, p);
      p += 4;
    }
    p += out.write(b.id, p, 'hex');
  }
  return out;
}

export function decodeHeader(header: Buffer, what: string): PackedBlob[] {
  const blobs: PackedBlob[] = [];
  let p = 0;
  let offset = 0;
  while (p < header.length) {
    const code = header[p]!;
    if (code > 3) throw new IntegrityError(`${what}: invalid blob type ${code} in pack header`);
    const compressed = (code & 2) !== 0;
    const need = compressed ? ENTRY_COMPRESSED : ENTRY_PLAIN;
    if (p + need > header.length) throw new IntegrityError(`${what}: truncated pack header`);
    const length = header.readUInt32LE(p + 1);
    const uncompressedLength = compressed ? header.readUInt32LE(p + 5) : 0;
    const id = header.toString('hex', p + need - 32, p + need);
    blobs.push({ id, type: code & 1 ? 'tree' : 'data', offset, length, uncompressedLength });
    offset += length;
    p += need;
  }
  return blobs;
}

/** Reads and authenticates the header of a stored pack. `size` comes from a listing or stat. */
export async function readPackHeader(backend: Backend, key: MasterKey, packId: ID, size: number): Promise<PackedBlob[]> {
  const what = `pack ${packId}`;
  if (size < 4 + CRYPTO_OVERHEAD) throw new IntegrityError(`${what}: file too small (${size} bytes)`);
  // Most headers are small: read a generous tail once instead of two round trips.
  const tailLen = Math.min(size, 64 * 1024);
  let tail = await backend.load({ type: 'pack', name: packId }, size - tailLen, tailLen);
  const headerLen = tail.readUInt32LE(tail.length - 4);
  if (headerLen < CRYPTO_OVERHEAD || headerLen > MAX_HEADER_SIZE || headerLen + 4 > size) {
    throw new IntegrityError(`${what}: invalid header length ${headerLen}`);
  }
  if (headerLen + 4 > tailLen) tail = await backend.load({ type: 'pack', name: packId }, size - headerLen - 4, headerLen + 4);
  const sealed = tail.subarray(tail.length - 4 - headerLen, tail.length - 4);
  const blobs = decodeHeader(open(key, sealed, `${what} header`), what);
  const dataEnd = size - headerLen - 4;
  const last = blobs.at(-1);
  if (last && last.offset + last.length !== dataEnd) {
    throw new IntegrityError(`${what}: header describes ${last.offset + last.length} bytes of blobs, file has ${dataEnd}`);
  }
  return blobs;
}
