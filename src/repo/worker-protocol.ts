/**
 * Messages between the backup's main thread and its file-processing workers.
 *
 * Sealed blobs travel through a per-worker ring in shared memory instead of being transferred:
 * the main thread copies each blob into its pack and releases the slot at once, so no per-blob
 * buffer is left for the garbage collector and memory stays flat however much data passes.
 */
import type { ID } from './ids.js';

/** Big enough for the largest sealed chunk (8 MiB + 32); typical 1 MiB chunks leave room for several. */
export const RING_SIZE = 9 * 1024 * 1024;

export interface WorkerInit {
  key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array };
  polynomial: string;
  compress: boolean;
  /** The repository's data blob ids: a `SharedIdSet` table, one for all workers. */
  known: SharedArrayBuffer;
  /** RING_SIZE bytes of sealed blobs. */
  ring: SharedArrayBuffer;
  /** BigInt64[0]: ring bytes the main thread has released (monotonic). */
  released: SharedArrayBuffer;
  /** Int32[0]: 1 while the pack uploader is saturated; shared by all workers. */
  paused: SharedArrayBuffer;
}

export type ToWorker = { kind: 'file'; job: number; path: string };

export type FromWorker =
  /** A sealed blob at `offset` in the ring; once packed, the main thread releases up to `releaseTo`. */
  | { kind: 'blob'; job: number; id: ID; offset: number; length: number; releaseTo: number; uncompressedLength: number; plainLength: number }
  | { kind: 'done'; job: number; content: ID[]; size: number }
  | { kind: 'failed'; job: number; message: string; code?: string };
