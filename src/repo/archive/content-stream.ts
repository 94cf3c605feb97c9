/**
 * A file's content as a stream: its data blobs loaded in order (a few prefetched while the current
 * one is consumed), hashed on the way. Memory stays at a few blobs whatever the file's size, and
 * the stream is pulled only as fast as the ZIP goes out.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CancelledError, IntegrityError } from '../errors.js';
import type { ID } from '../ids.js';
import type { Repository } from '../repository.js';

export interface ContentStreamOptions {
  /** Called with the hex SHA-256 once the last byte was read and the length checked. */
  onDigest: (sha256: string) => void;
  signal?: AbortSignal | undefined;
  /** For messages. */
  label: string;
}

/**
 * Blobs requested ahead of the one being consumed: hides the latency of remote storage (one
 * request per blob) while memory stays bounded (at most this many blobs of up to 8 MiB).
 */
const PREFETCH = 4;

export function contentStream(repo: Repository, blobs: readonly ID[], size: number, opts: ContentStreamOptions): Readable {
  const load = (i: number): Promise<Buffer> => {
    const p = repo.loadBlob('data', blobs[i]!);
    // Awaited later; this only keeps a prefetch abandoned by a destroyed stream from being unhandled.
    p.catch(() => undefined);
    return p;
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let length = 0;
    const ahead: Promise<Buffer>[] = [];
    let requested = 0;
    for (let i = 0; i < blobs.length; i++) {
      if (opts.signal?.aborted) throw new CancelledError('export cancelled');
      while (requested < blobs.length && requested < i + PREFETCH) ahead.push(load(requested++));
      const blob = await ahead.shift()!;
      hash.update(blob);
      length += blob.length;
      yield blob;
    }
    if (length !== size) throw new IntegrityError(`${opts.label}: read ${length} bytes, expected ${size}`);
    opts.onDigest(hash.digest('hex'));
  }
  // Byte mode with a small high-water mark: at most one blob waits in the stream's buffer.
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 64 * 1024 });
}
