/**
 * Verifies a pack as its bytes stream by in pieces, so `check --read-data` never holds a whole pack
 * (16 MiB for Coffer, up to 128 MiB for restic) in memory: each piece is hashed into the pack's
 * SHA-256, blobs lying wholly inside a piece are decoded in place, a blob cut by a piece boundary is
 * carried across pieces, and the header (the pack's last bytes) is kept to be read at the end.
 *
 * The stream only tells sound from damaged. A damaged pack is then verified whole by `verifyPack`,
 * which names every problem: detailed reports stay exactly as before, and this fast path has a
 * single job, never to call a damaged pack sound. It checks everything `verifyPack` checks: the
 * pack's hash, every blob's MAC, decompression and plaintext hash, and a header that lists exactly
 * the index's blobs. Packs whose index entries do not tile the file (see `streamable`) skip it.
 */
import { type Decipher, type Hash, createDecipheriv, createHash } from 'node:crypto';
import { decodeBlobInPlace } from './blob-codec.js';
import { IV_SIZE, MAC_SIZE, MacStream, type MasterKey, open } from './crypto.js';
import type { ID } from './ids.js';
import { type PackedBlob, decodeHeader } from './pack.js';
import { blobKey, headerSizeFor } from './pack-verify.js';

/** The size a pack must have for its index entries: blobs, then the sealed header and its length. */
export function expectedPackSize(blobs: readonly PackedBlob[]): number {
  let size = headerSizeFor(blobs);
  for (const b of blobs) size += b.length;
  return size;
}

/** Sorted by offset, as packs lay blobs out. */
export function byOffset(blobs: readonly PackedBlob[]): PackedBlob[] {
  return [...blobs].sort((a, b) => a.offset - b.offset);
}

/**
 * Whether a pack of `size` bytes can be verified as a stream: its index entries (sorted) follow
 * each other from offset 0 without gap or overlap, and the file is exactly as long as they and a
 * header listing them. Every sound pack is; a pack that is not gets the whole-pack verification,
 * which reports what is wrong.
 */
export function streamable(size: number, sorted: readonly PackedBlob[]): boolean {
  if (sorted.length === 0) return false;
  let end = 0;
  for (const b of sorted) {
    if (b.offset !== end) return false;
    end += b.length;
  }
  return size === expectedPackSize(sorted);
}

/**
 * Cuts `[0, size)` into reads of at most `piece` bytes, ending at blob boundaries where one fits so
 * that most blobs are decoded in place; only a blob larger than `piece` is split.
 */
export function cutPieces(sorted: readonly PackedBlob[], size: number, piece: number): { start: number; end: number }[] {
  const bounds = sorted.map((b) => b.offset + b.length);
  bounds.push(size);
  const out: { start: number; end: number }[] = [];
  let start = 0;
  let i = 0;
  while (start < size) {
    while (i < bounds.length && bounds[i]! <= start) i++;
    let end = start + piece;
    if (i < bounds.length && bounds[i]! <= end) {
      while (i + 1 < bounds.length && bounds[i + 1]! <= end) i++;
      end = bounds[i]!;
    }
    end = Math.min(end, size);
    out.push({ start, end });
    start = end;
  }
  return out;
}

const DECRYPT_PIECE = 16 * 1024;

/** One blob whose bytes arrive over several pieces. */
class SpanningBlob {
  private got = 0;
  private readonly iv = Buffer.alloc(IV_SIZE);
  private readonly tag = Buffer.alloc(MAC_SIZE);
  private mac: MacStream | undefined;
  private decipher: Decipher | undefined;
  private hash: Hash | undefined;
  /**
   * A compressed blob is collected whole (zstd needs its frame in one piece) and decoded in place
   * at the end, in the stream's carry buffer: reused, since allocations of a few MiB that come and
   * go fragment the allocator's arenas and keep memory the process never gives back.
   */
  private readonly sealed: Buffer | undefined;

  constructor(private readonly key: MasterKey, private readonly blob: PackedBlob, carry: { buf: Buffer }) {
    if (blob.uncompressedLength > 0) {
      if (carry.buf.length < blob.length) carry.buf = Buffer.allocUnsafeSlow(Math.max(blob.length, 1024 * 1024));
      this.sealed = carry.buf.subarray(0, blob.length);
    }
  }

  /** The blob's next bytes (at blob offset `this.got`). */
  update(part: Buffer): void {
    if (this.sealed) {
      part.copy(this.sealed, this.got);
      this.got += part.length;
      return;
    }
    // An uncompressed blob streams: MAC over the ciphertext, decryption, plaintext hash.
    const bodyEnd = this.blob.length - MAC_SIZE;
    let p = 0;
    while (p < part.length) {
      const at = this.got + p;
      if (at < IV_SIZE) {
        const n = Math.min(IV_SIZE - at, part.length - p);
        part.copy(this.iv, at, p, p + n);
        p += n;
        if (at + n === IV_SIZE) {
          this.mac = new MacStream(this.key, this.iv);
          this.decipher = createDecipheriv('aes-256-ctr', this.key.encrypt, this.iv);
          this.hash = createHash('sha256');
        }
      } else if (at < bodyEnd) {
        const n = Math.min(bodyEnd - at, part.length - p);
        const ciphertext = part.subarray(p, p + n);
        this.mac!.update(ciphertext);
        for (let q = 0; q < n; q += DECRYPT_PIECE) {
          this.hash!.update(this.decipher!.update(ciphertext.subarray(q, Math.min(n, q + DECRYPT_PIECE))));
        }
        p += n;
      } else {
        const n = Math.min(this.blob.length - at, part.length - p);
        part.copy(this.tag, at - bodyEnd, p, p + n);
        p += n;
      }
    }
    this.got += part.length;
  }

  /** Whether the blob is sound; call once all of its bytes went to `update`. */
  finish(scratch: { buf: Buffer }): boolean {
    if (this.got !== this.blob.length) return false;
    if (this.sealed) {
      try {
        decodeBlobInPlace(this.key, this.sealed, 0, this.blob, scratch);
        return true;
      } catch {
        return false;
      }
    }
    if (!this.mac!.verify(this.tag)) return false;
    this.decipher!.final();
    return this.hash!.digest('hex') === this.blob.id;
  }
}

export class PackStream {
  private readonly hash = createHash('sha256');
  /** Pack offset of the next byte expected. */
  private pos = 0;
  /** Index in `blobs` of the next blob to finish. */
  private next = 0;
  private span: SpanningBlob | undefined;
  /** The pack's last bytes after its blobs: sealed header and length field. */
  private readonly tail: Buffer;
  private tailFill = 0;
  private sound = true;

  /** `sorted`: the index's blobs in this pack by offset, `streamable` for `size`. */
  constructor(
    private readonly key: MasterKey,
    private readonly packId: ID,
    private readonly size: number,
    private readonly sorted: readonly PackedBlob[],
    private readonly scratch: { buf: Buffer },
    /** Where blobs that span pieces are collected (one at a time); grown when needed. */
    private readonly carry: { buf: Buffer },
    private readonly afterBlob: (bytes: number) => void = () => undefined,
  ) {
    const last = sorted.at(-1)!;
    this.tail = Buffer.alloc(size - (last.offset + last.length));
  }

  /** No damage seen so far (the verdict is `finish`'s). */
  get intact(): boolean {
    return this.sound;
  }

  /** The pack's bytes at offset `start`, the next ones in order. `chunk` is decrypted in place. */
  update(chunk: Buffer, start: number): void {
    if (start !== this.pos || this.pos + chunk.length > this.size) this.sound = false;
    if (!this.sound) {
      // Damaged already: the whole-pack verification takes over; just follow along.
      this.pos += chunk.length;
      return;
    }
    // Hash first: blobs are decrypted in place below.
    this.hash.update(chunk);
    let p = 0;
    while (p < chunk.length && this.sound) {
      const at = this.pos + p;
      const blob = this.sorted[this.next];
      if (!blob) {
        chunk.copy(this.tail, this.tailFill, p);
        this.tailFill += chunk.length - p;
        break;
      }
      const end = blob.offset + blob.length;
      if (!this.span && at === blob.offset && chunk.length - p >= blob.length) {
        try {
          decodeBlobInPlace(this.key, chunk, p, blob, this.scratch);
        } catch {
          this.sound = false;
        }
        this.afterBlob(blob.length);
        p += blob.length;
        this.next++;
        continue;
      }
      this.span ??= new SpanningBlob(this.key, blob, this.carry);
      const n = Math.min(chunk.length - p, end - at);
      this.span.update(chunk.subarray(p, p + n));
      p += n;
      if (at + n === end) {
        if (!this.span.finish(this.scratch)) this.sound = false;
        this.afterBlob(blob.length);
        this.span = undefined;
        this.next++;
      }
    }
    this.pos += chunk.length;
  }

  /** Whether the pack is sound; call once after the last byte. */
  finish(): boolean {
    if (!this.sound || this.pos !== this.size || this.next !== this.sorted.length) return false;
    if (this.hash.digest('hex') !== this.packId) return false;
    try {
      const headerLength = this.tail.readUInt32LE(this.tail.length - 4);
      if (headerLength !== this.tail.length - 4) return false;
      const header = byOffset(decodeHeader(open(this.key, this.tail.subarray(0, headerLength), 'pack header'), 'pack header'));
      // Same entries as the index, in the same places: both are sorted by offset.
      return header.length === this.sorted.length && header.every((b, i) => blobKey(b) === blobKey(this.sorted[i]!));
    } catch {
      return false;
    }
  }
}
