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
 * Compresses a blob, or returns `null` when that would not make it smaller: incompressible data is
 * then stored as an uncompressed blob, which the format allows and which restores faster.
 * The result is a view of a per-thread buffer, valid until the next call.
 */
export function compressBlob(data: Uint8Array): Buffer | null {
  if (data.length < 16) return null;
  if (scratch.length < data.length) scratch = Buffer.allocUnsafeSlow(Math.max(data.length, 1024 * 1024));
  try {
    // A destination one byte shorter than the input: zstd fails fast if it cannot shrink the data.
    const n = getCCtx().compress(scratch.subarray(0, data.length - 1), data, DEFAULT_LEVEL);
    return scratch.subarray(0, n);
  } catch {
    return null;
  }
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
