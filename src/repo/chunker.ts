/**
 * Content-defined chunking (FastCDC, normalized chunking level 1) keyed by the repository's
 * secret chunker polynomial. Cut points are part of the repository format: two clients of the
 * same repository must cut identical bytes identically or deduplication silently stops working,
 * so everything that influences a cut (gear table derivation, masks, sizes) is frozen.
 */
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { IntegrityError } from './errors.js';

export const MIN_CHUNK = 512 * 1024;
export const AVG_CHUNK = 1024 * 1024;
export const MAX_CHUNK = 8 * 1024 * 1024;

/**
 * Cut when `(h & mask) === 0`. Gear hash bit k depends only on the last k+1 bytes, so the masks use
 * the TOP bits: bit 31 sees a full 32-byte window. Contiguous top bits keep every tested bit's window
 * as wide as a 32-bit gear allows (spreading them lower would only shorten some windows).
 * Normalization level 1 (+-1 bit around 19): the strict mask before AVG_CHUNK makes early cuts
 * rarer, the loose one after makes late cuts likelier, narrowing the size distribution. 19 rather
 * than log2(AVG_CHUNK)=20 because the skipped MIN_CHUNK prefix already adds half the average.
 * Level 1, not FastCDC's usual 2: the mask depends on the distance from the chunk start, so after an
 * insertion a stronger normalization re-synchronises later. On the benchmark's partly duplicated
 * files, level 2 stored 1.1% more unique data than level 1 (1110.0 vs 1097.8 MiB of 1239.8), and
 * level 1 was within 0.1% of no normalization. Mean chunk on that data: ~1.04 MiB.
 */
export const MASK_STRICT = 0xfffff000 | 0; // top 20 bits, before AVG_CHUNK
export const MASK_LOOSE = 0xffffc000 | 0; // top 18 bits, from AVG_CHUNK on

// Word reads below reinterpret 4 bytes as one little-endian uint32; big-endian hosts take the byte path.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The gear table, frozen as part of the format: entry i is the little-endian uint32 of the first
 * 4 bytes of SHA-256("coffer-fastcdc-gear-v1" || P || i), where P is the polynomial's value as a 64-bit
 * little-endian integer (so spellings differing in case or leading zeros agree) and i is one byte. Keying the table on the secret polynomial keeps chunk boundaries, and thus chunk sizes, from
 * being predictable (a known-plaintext fingerprinting channel) by anyone without the repository key.
 */
export function gearTable(polynomialHex: string): Int32Array {
  if (!/^[0-9a-f]{1,16}$/i.test(polynomialHex)) {
    throw new IntegrityError(`invalid chunker polynomial ${JSON.stringify(polynomialHex)}`);
  }
  const pol = BigInt('0x' + polynomialHex);
  if (pol === 0n) throw new IntegrityError('chunker polynomial is zero');
  const prefix = Buffer.from('coffer-fastcdc-gear-v1', 'latin1');
  const polBytes = Buffer.alloc(8);
  polBytes.writeBigUInt64LE(pol);
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const d = createHash('sha256').update(prefix).update(polBytes).update(Uint8Array.of(i)).digest();
    table[i] = d.readInt32LE(0);
  }
  return table;
}

/** Hash state out of scanWords when it finds no cut; a module slot rather than a result object. */
let wordsHash = 0;

/**
 * The hot loop: two little-endian words (8 bytes) per iteration, `words.length` must be even.
 * Measured on this V8 (hash only, random data): byte loop ~1.2 GB/s, one word per iteration
 * ~1.95, two words ~2.15. It stays a small standalone function with a single exit after the loop
 * because V8 compiled it ~30% slower as part of the method, or with a `return` per byte.
 * Returns the byte count up to and including the cut byte, or -1.
 */
function scanWords(g: Int32Array, words: Uint32Array, h: number, mask: number): number {
  const n = words.length;
  let w = 0;
  let k = 0;
  for (; w < n; w += 2) {
    const x = words[w]!;
    const y = words[w + 1]!;
    h = ((h << 1) + g[x & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 1; break; }
    h = ((h << 1) + g[(x >>> 8) & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 2; break; }
    h = ((h << 1) + g[(x >>> 16) & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 3; break; }
    h = ((h << 1) + g[x >>> 24]!) | 0;
    if ((h & mask) === 0) { k = 4; break; }
    h = ((h << 1) + g[y & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 5; break; }
    h = ((h << 1) + g[(y >>> 8) & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 6; break; }
    h = ((h << 1) + g[(y >>> 16) & 0xff]!) | 0;
    if ((h & mask) === 0) { k = 7; break; }
    h = ((h << 1) + g[y >>> 24]!) | 0;
    if ((h & mask) === 0) { k = 8; break; }
  }
  wordsHash = h;
  return k === 0 ? -1 : (w << 2) + k;
}

export class Chunker {
  // Int32Array (not Uint32Array) so loads stay small integers in V8 instead of boxed doubles.
  private readonly gear: Int32Array;
  /** Gear state handed from the strict-mask scan to the loose-mask scan of the same chunk. */
  private h = 0;

  constructor(polynomialHex: string) {
    this.gear = gearTable(polynomialHex);
  }

  /** Length of the next chunk starting at data[start], looking at data[start, end).
   *  Returns a length in (0, MAX_CHUNK] when a cut is decided, or 0 when more data is needed
   *  (i.e. no cut found, end-start < MAX_CHUNK and !eof). At eof with bytes left it returns end-start
   *  (or a cut inside). Never returns 0 when eof && end > start. */
  nextCut(data: Uint8Array, start: number, end: number, eof: boolean): number {
    const avail = end - start;
    if (avail <= MIN_CHUNK) return eof ? avail : 0;
    const limit = avail < MAX_CHUNK ? end : start + MAX_CHUNK;
    const normal = Math.min(start + AVG_CHUNK, limit);
    // The hash restarts at the min point, so a cut depends only on bytes of its own chunk.
    this.h = 0;
    let cut = this.scan(data, start + MIN_CHUNK, normal, MASK_STRICT);
    if (cut < 0) cut = this.scan(data, normal, limit, MASK_LOOSE);
    if (cut >= 0) return cut - start;
    if (limit - start === MAX_CHUNK || eof) return limit - start;
    return 0;
  }

  /** Bytes of the current chunk already fed to the hash by `feedCut` (-1: none yet). */
  private fed = -1;

  /**
   * Incremental `nextCut`: the same cut points, but bytes already scanned for the current chunk
   * are not scanned again when more data arrives, so a reader can offer data in small pieces
   * (and keep a buffer of MAX_CHUNK plus one read instead of 2 * MAX_CHUNK). `start` must stay the
   * same chunk's first byte between calls that return 0 (the data may be moved, `start` with it).
   */
  feedCut(data: Uint8Array, start: number, end: number, eof: boolean): number {
    const avail = end - start;
    if (this.fed < 0) {
      this.fed = MIN_CHUNK;
      this.h = 0;
    }
    if (avail <= MIN_CHUNK) {
      if (!eof) return 0;
      this.fed = -1;
      return avail;
    }
    const limit = Math.min(avail, MAX_CHUNK);
    let cut = -1;
    if (this.fed < AVG_CHUNK) {
      const to = Math.min(AVG_CHUNK, limit);
      cut = this.scan(data, start + this.fed, start + to, MASK_STRICT);
      this.fed = to;
    }
    if (cut < 0 && this.fed >= AVG_CHUNK && this.fed < limit) {
      cut = this.scan(data, start + this.fed, start + limit, MASK_LOOSE);
      this.fed = limit;
    }
    if (cut >= 0) {
      this.fed = -1;
      return cut - start;
    }
    if (limit === MAX_CHUNK || eof) {
      this.fed = -1;
      return limit;
    }
    return 0;
  }

  /** Feeds data[from, to) into the hash; returns the index just past the first byte that satisfies
   *  the mask, or -1. Bytes before the first 4-aligned address and the last few go through the byte
   *  loop, the rest through scanWords. */
  private scan(data: Uint8Array, from: number, to: number, mask: number): number {
    const g = this.gear;
    let h = this.h;
    let i = from;
    if (LITTLE_ENDIAN && to - from >= 64) {
      const base = data.byteOffset;
      const head = Math.min(to, from + ((4 - ((base + from) & 3)) & 3));
      for (; i < head; i++) {
        h = ((h << 1) + g[data[i]!]!) | 0;
        if ((h & mask) === 0) return i + 1;
      }
      const nWords = ((to - i) >>> 3) << 1;
      const hit = scanWords(g, new Uint32Array(data.buffer, base + i, nWords), h, mask);
      if (hit >= 0) return i + hit;
      h = wordsHash;
      i += nWords << 2;
    }
    for (; i < to; i++) {
      h = ((h << 1) + g[data[i]!]!) | 0;
      if ((h & mask) === 0) return i + 1;
    }
    this.h = h;
    return -1;
  }
}

/** How much `chunkFileSync` reads at a time. */
const READ_SIZE = 1024 * 1024;

/** The buffer size `chunkFileSync` needs: one maximal chunk plus one read. */
export const FILE_CHUNK_BUFFER = MAX_CHUNK + READ_SIZE;

/** Synchronously chunks a file descriptor (used inside worker threads). Yields views into an
 *  internal buffer that are only valid until the next iteration (caller copies if it keeps them).
 *  Reads 1 MiB at a time and cuts incrementally (`feedCut`), so the buffer holds one maximal chunk
 *  plus one read; only the unfinished tail is moved to the front when the buffer fills, which
 *  copies roughly one chunk per buffer's worth of data. */
export function* chunkFileSync(
  fd: number,
  chunker: Chunker,
  // allocUnsafeSlow: an unpooled buffer at byteOffset 0, so the word path of the scan applies.
  // Callers that chunk many files pass one buffer (of at least FILE_CHUNK_BUFFER bytes) to reuse.
  buf: Buffer = Buffer.allocUnsafeSlow(FILE_CHUNK_BUFFER),
): Generator<Uint8Array> {
  if (buf.length < FILE_CHUNK_BUFFER) throw new RangeError('chunkFileSync needs a buffer of at least FILE_CHUNK_BUFFER bytes');
  let start = 0;
  let end = 0;
  let eof = false;
  for (;;) {
    const n = chunker.feedCut(buf, start, end, eof);
    if (n > 0) {
      yield buf.subarray(start, start + n);
      start += n;
      continue;
    }
    if (eof) return; // feedCut returns 0 at eof only when nothing is left
    if (buf.length - end < READ_SIZE) {
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    const got = readSync(fd, buf, end, Math.min(READ_SIZE, buf.length - end), null);
    if (got === 0) eof = true;
    end += got;
  }
}

/** Chunks an async byte stream (stdin, a dump command's stdout); yields freshly owned Buffers. */
export async function* chunkStream(
  stream: AsyncIterable<Uint8Array>,
  chunker: Chunker,
): AsyncGenerator<Buffer> {
  // Pieces are gathered until MAX_CHUNK bytes are pending so each cut is searched once; calling
  // nextCut per small piece would rescan the pending bytes every time.
  const buf = Buffer.allocUnsafeSlow(2 * MAX_CHUNK);
  let start = 0;
  let end = 0;
  const take = (n: number): Buffer => {
    const out = Buffer.allocUnsafeSlow(n);
    buf.copy(out, 0, start, start + n);
    start += n;
    return out;
  };
  for await (const piece of stream) {
    let off = 0;
    while (off < piece.length) {
      if (start > 0 && end === buf.length) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      const n = Math.min(piece.length - off, buf.length - end);
      buf.set(piece.subarray(off, off + n), end);
      off += n;
      end += n;
      while (end - start >= MAX_CHUNK) yield take(chunker.nextCut(buf, start, end, false));
    }
  }
  while (end > start) yield take(chunker.nextCut(buf, start, end, true));
}
