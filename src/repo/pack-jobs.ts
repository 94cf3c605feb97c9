/** The work a pack worker does, as plain functions so the pool can also run them inline. */
import * as fs from 'node:fs';
import { decodeBlobInPlace } from './blob-codec.js';
import type { MasterKey } from './crypto.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import type { WriteTarget } from './pack-worker-protocol.js';
import { verifyPack } from './pack-verify.js';

const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;

/** calloc'ed: its pages map the kernel's zero page and cost no memory until written (never). */
const ZEROS = Buffer.alloc(8 * 1024 * 1024 + 64);

function isAllZero(buf: Buffer): boolean {
  return buf.length <= ZEROS.length && buf.equals(ZEROS.subarray(0, buf.length));
}

export class PackJobs {
  /** Decompression output, reused across blobs. */
  private readonly scratch = { buf: Buffer.allocUnsafeSlow(0) };

  constructor(private readonly key: MasterKey) {}

  verify(packId: ID, data: Buffer, blobs: readonly PackedBlob[]): string[] {
    return verifyPack(this.key, packId, data, blobs, this.scratch);
  }

  /**
   * Decodes each blob (throwing on damage, before anything of it is written) and writes it to its
   * targets. O_NOFOLLOW: a symlink planted at a file's name is refused, never followed. Files with
   * several blobs were created (truncated) by the main thread; a file's only blob creates it here.
   */
  restore(data: Buffer, start: number, blobs: readonly { blob: PackedBlob; targets: readonly WriteTarget[] }[]): void {
    for (const { blob, targets } of blobs) {
      const plain = decodeBlobInPlace(this.key, data, blob.offset - start, blob, this.scratch);
      for (const t of targets) {
        // Pre-sized files read back zeros where nothing is written: keep them sparse.
        if (!t.create && isAllZero(plain)) continue;
        const fd = fs.openSync(t.path, t.create ? O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW : O_WRONLY | O_NOFOLLOW, 0o600);
        try {
          let done = 0;
          while (done < plain.length) done += fs.writeSync(fd, plain, done, plain.length - done, t.offset + done);
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  }
}
