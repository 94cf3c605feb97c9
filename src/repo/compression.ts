/**
 * zstd for blobs and unpacked files (repository format v2). One compressor context per thread is
 * reused: making a context per call costs more than compressing a small tree blob.
 */
import { Compressor, Decompressor } from 'zstd-napi';
import { IntegrityError } from './errors.js';

/** restic's "auto" mode is zstd's default speed, about level 3. */
export const DEFAULT_LEVEL = 3;

let compressor: Compressor | undefined;
let decompressor: Decompressor | undefined;

function getCompressor(): Compressor {
  if (!compressor) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: DEFAULT_LEVEL });
  }
  return compressor;
}

export function zstdCompress(data: Uint8Array): Buffer {
  return getCompressor().compress(data);
}

/**
 * Compresses a blob, or returns `null` when that would not make it smaller: incompressible data is
 * then stored as an uncompressed blob, which the format allows and which restores faster.
 */
export function compressBlob(data: Uint8Array): Buffer | null {
  if (data.length < 16) return null;
  const out = zstdCompress(data);
  return out.length < data.length ? out : null;
}

export function zstdDecompress(data: Uint8Array, what = 'data'): Buffer {
  decompressor ??= new Decompressor();
  try {
    return decompressor.decompress(data);
  } catch (err) {
    throw new IntegrityError(`${what}: zstd decompression failed: ${(err as Error).message}`, { cause: err });
  }
}
