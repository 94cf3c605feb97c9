/**
 * A pack being written to a temporary file, as restic's packer does: blobs go to disk as they
 * arrive and the pack id (SHA-256 of the whole file) is computed on the way, so a backup holds no
 * pack in memory however many uploads are queued. The finished file is handed to the backend's
 * `saveFile` (a hard link for a local repository, a streamed upload for object storage).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { type MasterKey, seal } from './crypto.js';
import type { ID } from './ids.js';
import { type BlobType, type PackedBlob, encodeHeader } from './pack.js';

const fsyncAsync = promisify(fs.fsync);
const closeAsync = promisify(fs.close);

export interface FinishedPack {
  readonly id: ID;
  readonly file: string;
  readonly size: number;
  readonly blobs: readonly PackedBlob[];
  readonly type: BlobType;
}

export class PackFile {
  readonly blobs: PackedBlob[] = [];
  private readonly hash = createHash('sha256');
  private readonly fd: number;
  private size = 0;

  constructor(readonly type: BlobType, readonly file: string) {
    this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  }

  static create(type: BlobType, dir: string): PackFile {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new PackFile(type, path.join(dir, `pack-${process.pid}-${randomBytes(8).toString('hex')}.tmp`));
  }

  get byteLength(): number {
    return this.size;
  }

  get count(): number {
    return this.blobs.length;
  }

  private write(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, this.size + done);
    this.hash.update(data);
    this.size += data.length;
  }

  /** Appends a sealed blob. The bytes are written before this returns, so `sealed` may be reused. */
  add(id: ID, sealed: Uint8Array, uncompressedLength: number): void {
    this.blobs.push({ id, type: this.type, offset: this.size, length: sealed.length, uncompressedLength });
    this.write(sealed);
  }

  /** Appends the sealed header and its length; the file is then complete but not yet durable. */
  finish(key: MasterKey): Omit<FinishedPack, 'id'> & { hash: ReturnType<typeof createHash> } {
    const header = seal(key, encodeHeader(this.blobs));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(header.length, 0);
    this.write(header);
    this.write(len);
    return { file: this.file, size: this.size, blobs: this.blobs, type: this.type, hash: this.hash };
  }

  /** Flushes to disk and closes; off the main thread, since fsync can take a while. */
  async sync(): Promise<void> {
    await fsyncAsync(this.fd);
    await closeAsync(this.fd);
  }

  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.file, { force: true });
  }
}
