/** Messages between the main thread and the pack workers that verify (check) and restore packs. */
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

/** `data` is a shared slot whose first `length` bytes are the job's pack bytes. */
export type ToPackWorker =
  | { kind: 'verify'; job: number; packId: ID; data: SharedArrayBuffer; length: number; blobs: PackedBlob[] }
  /** The bytes start at pack offset `start`; each blob is decoded and written to its targets. */
  | { kind: 'restore'; job: number; data: SharedArrayBuffer; length: number; start: number; blobs: { blob: PackedBlob; targets: WriteTarget[] }[] };

export type FromPackWorker =
  | { kind: 'verified'; job: number; problems: string[] }
  | { kind: 'restored'; job: number }
  | { kind: 'failed'; job: number; message: string; integrity: boolean };
