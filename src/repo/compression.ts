/**
 * zstd for blobs and unpacked files (repository format v2), through zstd-napi's low-level
 * binding so that compression writes into a reused buffer: one context and one output buffer
 * per thread, no per-chunk allocation for the garbage collector to chase.
 */
import { createRequire } from 'node:module';
import type * as Binding from 'zstd-napi/binding.js';
import { IntegrityError } from './errors.js';

// The binding is CommonJS without an ESM entry; require keeps its types.
const zstd = createRequire(import.meta.url)('zstd-napi/binding') as typeof Binding;

/** restic's "auto" mode is zstd's default speed, about level 3. */
export const DEFAULT_LEVEL = 3;

let cctx: Binding.CCtx | undefined;
let dctx: Binding.DCtx | undefined;
let scratch: Buffer = Buffer.allocUnsafeSlow(0);

function getCCtx(): Binding.CCtx {
  return (cctx ??= new zstd.CCtx());
}

/** Compresses into a fresh buffer (unpacked files, where size does not matter). */
export function zstdCompress(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(zstd.compressBound(data.length));
  const n = getCCtx().compress(out, data, DEFAULT_LEVEL);
  return out.subarray(0, n);
}

/**
 * Compresses `src` into `dst` when that makes it smaller; returns the compressed length, or -1 for
 * incompressible data, which is then stored as an uncompressed blob (the format allows it, and it
 * restores faster). Only `src.length - 1` bytes of `dst` are used: zstd gives up as soon as the
 * output would not be smaller.
 */
export function compressInto(dst: Uint8Array, src: Uint8Array): number {
  if (src.length < 16) return -1;
  try {
    return getCCtx().compress(dst.subarray(0, src.length - 1), src, DEFAULT_LEVEL);
  } catch {
    return -1;
  }
}

/** `compressInto` with a per-thread buffer; the result is valid until the next call. */
export function compressBlob(data: Uint8Array): Buffer | null {
  if (scratch.length < data.length) scratch = Buffer.allocUnsafeSlow(Math.max(data.length, 256 * 1024));
  const n = compressInto(scratch, data);
  return n < 0 ? null : scratch.subarray(0, n);
}

/** Decompresses a frame; with `size` known (blobs), straight into a buffer of that size. */
export function zstdDecompress(data: Uint8Array, what = 'data', size?: number): Buffer {
  dctx ??= new zstd.DCtx();
  try {
    const expected = size ?? zstd.getFrameContentSize(data);
    if (expected === null || expected === undefined) {
      // Frames without a content size (some writers omit it): fall back to streaming.
      return streamingDecompress(data);
    }
    const out = Buffer.allocUnsafe(expected);
    const n = dctx.decompress(out, data);
    return n === expected ? out : out.subarray(0, n);
  } catch (err) {
    throw new IntegrityError(`${what}: zstd decompression failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Decompresses into `dst` (exactly the expected size); returns the decompressed length. */
export function zstdDecompressInto(dst: Uint8Array, src: Uint8Array, what = 'data'): number {
  dctx ??= new zstd.DCtx();
  try {
    return dctx.decompress(dst, src);
  } catch (err) {
    throw new IntegrityError(`${what}: zstd decompression failed: ${(err as Error).message}`, { cause: err });
  }
}

function streamingDecompress(data: Uint8Array): Buffer {
  // Rare path: grow the output until the frame fits.
  let cap = Math.max(1024 * 1024, data.length * 8);
  for (;;) {
    const out = Buffer.allocUnsafe(cap);
    try {
      const n = dctx!.decompress(out, data);
      return out.subarray(0, n);
    } catch (err) {
      if (cap > 1024 * 1024 * 1024) throw err;
      cap *= 4;
    }
  }
}
