/** Messages between the backup's main thread and its file-processing workers. */
import type { ID } from './ids.js';

export interface WorkerInit {
  key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array };
  polynomial: string;
  compress: boolean;
  known: ID[];
  /** Int32[0]: sealed bytes this worker has posted that the main thread has not yet packed. */
  credit: SharedArrayBuffer;
  maxOutstandingBytes: number;
}

export type ToWorker =
  | { kind: 'file'; job: number; path: string }
  | { kind: 'known'; ids: ID[] };

export type FromWorker =
  | { kind: 'blob'; job: number; id: ID; sealed: Uint8Array; uncompressedLength: number; plainLength: number }
  | { kind: 'done'; job: number; content: ID[]; size: number }
  | { kind: 'failed'; job: number; message: string; code?: string };
