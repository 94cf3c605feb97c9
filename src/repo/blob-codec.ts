/**
 * Decoding one blob read from a pack (design.rst "Pack Format"): verify the MAC, decrypt,
 * decompress when the index says so, and check the plaintext's SHA-256 against the blob id.
 * Pure functions of the key, so worker threads run them as well as the main thread.
 */
import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { IV_SIZE, MAC_SIZE, type MasterKey, macOf, open } from './crypto.js';
import { zstdDecompress, zstdDecompressInto } from './compression.js';
import { IntegrityError } from './errors.js';
import type { PackedBlob } from './pack.js';

function verifyHash(plain: Uint8Array, blob: PackedBlob): void {
  if (createHash('sha256').update(plain).digest('hex') !== blob.id) {
    throw new IntegrityError(`blob ${blob.id}: content does not match its id`);
  }
}

/** Decodes into fresh buffers (trees and other small blobs on the main thread). */
export function decodeBlob(key: MasterKey, sealed: Uint8Array, blob: PackedBlob): Buffer {
  let plain = open(key, sealed, `blob ${blob.id}`);
  if (blob.uncompressedLength > 0) {
    plain = zstdDecompress(plain, `blob ${blob.id}`, blob.uncompressedLength);
    if (plain.length !== blob.uncompressedLength) {
      throw new IntegrityError(`blob ${blob.id}: decompressed to ${plain.length} bytes, index says ${blob.uncompressedLength}`);
    }
  }
  verifyHash(plain, blob);
  return plain;
}

const PIECE = 16 * 1024;

/**
 * Decodes the blob at `buf[offset, offset + blob.length)` without per-blob buffers: the MAC is
 * checked over the ciphertext where it lies, the ciphertext is decrypted in place (16 KiB at a
 * time), and a compressed blob is expanded into `scratch` (grown when needed). Returns a view of
 * the verified plaintext, valid until the next call with the same scratch. Used by the restore and
 * check workers, which decode gigabytes.
 */
export function decodeBlobInPlace(key: MasterKey, buf: Buffer, offset: number, blob: PackedBlob, scratch: { buf: Buffer }): Buffer {
  const what = `blob ${blob.id}`;
  if (blob.length < IV_SIZE + MAC_SIZE) throw new IntegrityError(`${what}: ciphertext too short (${blob.length} bytes)`);
  const iv = buf.subarray(offset, offset + IV_SIZE);
  const bodyStart = offset + IV_SIZE;
  const bodyEnd = offset + blob.length - MAC_SIZE;
  const body = buf.subarray(bodyStart, bodyEnd);
  if (!timingSafeEqual(macOf(key, iv, body), buf.subarray(bodyEnd, bodyEnd + MAC_SIZE))) {
    throw new IntegrityError(`${what}: MAC verification failed (damaged data or wrong key)`);
  }
  const decipher = createDecipheriv('aes-256-ctr', key.encrypt, iv);
  for (let p = bodyStart; p < bodyEnd; p += PIECE) {
    buf.set(decipher.update(buf.subarray(p, Math.min(bodyEnd, p + PIECE))), p);
  }
  decipher.final();
  let plain: Buffer = buf.subarray(bodyStart, bodyEnd);
  if (blob.uncompressedLength > 0) {
    if (scratch.buf.length < blob.uncompressedLength) scratch.buf = Buffer.allocUnsafeSlow(Math.max(blob.uncompressedLength, 1024 * 1024));
    const n = zstdDecompressInto(scratch.buf.subarray(0, blob.uncompressedLength), plain, what);
    if (n !== blob.uncompressedLength) throw new IntegrityError(`${what}: decompressed to ${n} bytes, index says ${blob.uncompressedLength}`);
    plain = scratch.buf.subarray(0, n);
  }
  verifyHash(plain, blob);
  return plain;
}
