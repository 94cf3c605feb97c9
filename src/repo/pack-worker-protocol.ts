/** Messages between the main thread and the pack workers that verify (check --read-data) and restore packs. */
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';

export interface PackWorkerInit {
  key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array };
}

/**
 * Where one restored blob goes. `create`: this blob is the file's only content: create it.
 * Otherwise the file exists at its full size already, so a blob of zeros is left as a hole.
 */
export interface WriteTarget {
  path: string;
  offset: number;
  create: boolean;
}

/**
 * `data` is a shared slot whose first `length` bytes are the job's pack bytes. `job` numbers every
 * message; the reply carries it back, and then the slot is free.
 */
export type ToPackWorker =
  /**
   * The next piece of pack `stream`, at pack offset `start`. The first piece of a stream opens it
   * (`blobs`: the index's entries by offset, `streamable` for `size`); the last one's reply is
   * the verdict. Pieces of one stream go to one worker, in order.
   */
  | { kind: 'piece'; job: number; stream: number; data: SharedArrayBuffer; length: number; start: number;
      open?: { packId: ID; size: number; blobs: PackedBlob[] }; last: boolean }
  /** The stream ends early (a read failed): forget it. No reply. */
  | { kind: 'drop'; job: number; stream: number }
  /** The bytes start at pack offset `start`; each blob is decoded and written to its targets. */
  | { kind: 'restore'; job: number; data: SharedArrayBuffer; length: number; start: number; blobs: { blob: PackedBlob; targets: WriteTarget[] }[] };

export type FromPackWorker =
  /** A piece was taken in; on the last piece, `sound` is the stream's verdict. */
  | { kind: 'piece-done'; job: number; sound: boolean }
  | { kind: 'restored'; job: number }
  | { kind: 'failed'; job: number; message: string; integrity: boolean };
