/** The work a pack worker does, as plain functions so the pool can also run them inline. */
import * as fs from 'node:fs';
import { decodeBlobInPlace } from './blob-codec.js';
import type { MasterKey } from './crypto.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import type { WriteTarget } from './pack-worker-protocol.js';
import { verifyPack } from './pack-verify.js';

const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;

const ZEROS = Buffer.alloc(64 * 1024);

function isAllZero(buf: Buffer): boolean {
  for (let p = 0; p < buf.length; p += ZEROS.length) {
    const end = Math.min(buf.length, p + ZEROS.length);
    if (!buf.subarray(p, end).equals(ZEROS.subarray(0, end - p))) return false;
  }
  return true;
}

export class PackJobs {
  /** Decompression output, reused across blobs. */
  private readonly scratch = { buf: Buffer.allocUnsafeSlow(0) };

  /** `afterBlob` hears of each decoded blob's size: workers use it to collect garbage promptly. */
  constructor(private readonly key: MasterKey, private readonly afterBlob: (bytes: number) => void = () => undefined) {}

  verify(packId: ID, data: Buffer, blobs: readonly PackedBlob[]): string[] {
    return verifyPack(this.key, packId, data, blobs, this.scratch, this.afterBlob);
  }

  /**
   * Decodes each blob (throwing on damage, before anything of it is written) and writes it to its
   * targets. O_NOFOLLOW: a symlink planted at a file's name is refused, never followed. Files with
   * several blobs were created (truncated) by the main thread; a file's only blob creates it here.
   */
  restore(data: Buffer, start: number, blobs: readonly { blob: PackedBlob; targets: readonly WriteTarget[] }[]): void {
    for (const { blob, targets } of blobs) {
      const plain = decodeBlobInPlace(this.key, data, blob.offset - start, blob, this.scratch);
      this.afterBlob(blob.length);
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
