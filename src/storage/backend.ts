/**
 * The storage seam: one small interface every provider (local disk, S3, Azure) implements.
 * Object-storage providers retry inside themselves (the SDKs' retry strategies, and `s3-retry.ts`
 * for a body cut off mid-read); callers bound their requests by `capabilities().connections`;
 * faults are injected by proxies in the tests (`test/support`), not here. A backend knows file
 * types and names, never what the bytes mean.
 */

/** The kinds of files a restic-format repository holds (design.rst "Repository Layout"). */
export type FileType = 'config' | 'key' | 'lock' | 'snapshot' | 'index' | 'pack';

export const FILE_TYPES: readonly FileType[] = ['config', 'key', 'lock', 'snapshot', 'index', 'pack'];

/** Names one file. `name` is the lower-case hex storage id; it is ignored for `config`. */
export interface Handle {
  readonly type: FileType;
  readonly name: string;
}

export interface FileInfo {
  readonly name: string;
  readonly size: number;
}

export interface BackendCapabilities {
  /** How many requests may usefully run at once; the uploader sizes its pool from this. */
  readonly connections: number;
  /**
   * Every request is a round trip over the network (object storage): readers then fetch whole
   * tree packs once instead of one request per directory. Undefined: a local disk.
   */
  readonly remote?: boolean;
  /**
   * A directory for temporary files from which `saveFile` can store without copying (same
   * filesystem); writers put pack files there. Undefined: use the OS temporary directory.
   */
  readonly tempDir?: string;
}

export interface Backend {
  /** Where the repository lives, safe to print: never contains credentials. */
  readonly location: string;

  capabilities(): BackendCapabilities;

  /** Creates the directory structure (if the provider has one). Idempotent. */
  create(): Promise<void>;

  /**
   * Stores `data` under `h` atomically: readers see either no file or the whole file, even if the
   * process dies mid-way. Files are written once; saving over an existing file is an error
   * (`AlreadyExistsError`) so a bug can never silently replace stored data.
   */
  save(h: Handle, data: Uint8Array): Promise<void>;

  /**
   * Stores the content of the local file `file` (fsynced by the caller) under `h`, with the same
   * guarantees as `save`, without holding it in memory. The file is consumed: on success it no
   * longer exists at `file`; on failure the caller removes it.
   */
  saveFile(h: Handle, file: string): Promise<void>;

  /**
   * Reads `length` bytes at `offset` (the whole file when `length` is omitted). A short read is a
   * permanent error (`ShortReadError`); a missing file is `NotFoundError`. With `into` (at least
   * as long as the data), the bytes land there and a view of it is returned: readers of many packs
   * reuse one buffer instead of allocating one per pack.
   */
  load(h: Handle, offset?: number, length?: number, into?: Uint8Array): Promise<Buffer>;

  /** Size of one file; `NotFoundError` when absent. */
  stat(h: Handle): Promise<FileInfo>;

  /** Every file of one type, in no particular order. */
  list(type: FileType): AsyncIterable<FileInfo>;

  /** Deletes one file; deleting a missing file is not an error (removal is idempotent). */
  remove(h: Handle): Promise<void>;

  /** Releases connections and handles. */
  close(): Promise<void>;
}

export class StorageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The named file (or the whole repository location) does not exist. */
export class NotFoundError extends StorageError {}

/** A save targeted a file that is already stored. */
export class AlreadyExistsError extends StorageError {}

/** The provider returned fewer bytes than asked for: the file is truncated. */
export class ShortReadError extends StorageError {}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}

export function describeHandle(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}
