/** The work a pack worker does, as plain functions so the pool can also run them inline. */
import * as fs from 'node:fs';
import { decodeBlobInPlace } from './blob-codec.js';
import type { MasterKey } from './crypto.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import { IntegrityError } from './errors.js';
import type { FromPackWorker, ToPackWorker, WriteTarget } from './pack-worker-protocol.js';
import { verifyPack } from './pack-verify.js';
import { PackStream } from './pack-stream.js';

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

  /** Packs being streamed through this thread, by stream number. */
  private readonly streams = new Map<number, PackStream>();
  /** Carry buffers for blobs that span pieces: one per open stream, reused. */
  private readonly carries: { buf: Buffer }[] = [];
  private readonly carryOf = new Map<number, { buf: Buffer }>();

  /** Verifies a whole pack held in memory; returns the problems found. */
  verify(packId: ID, data: Buffer, blobs: readonly PackedBlob[]): string[] {
    return verifyPack(this.key, packId, data, blobs, this.scratch, this.afterBlob);
  }

  /**
   * Takes the next piece of a streamed pack (`open` on its first piece). Returns whether the pack
   * is sound: after the last piece the verdict, before it whether no damage was seen yet.
   */
  piece(stream: number, data: Buffer, start: number, open: { packId: ID; size: number; blobs: readonly PackedBlob[] } | undefined,
    last: boolean): boolean {
    let s = this.streams.get(stream);
    if (open) {
      const carry = this.carries.pop() ?? { buf: Buffer.allocUnsafeSlow(0) };
      this.carryOf.set(stream, carry);
      s = new PackStream(this.key, open.packId, open.size, open.blobs, this.scratch, carry, this.afterBlob);
      this.streams.set(stream, s);
    }
    if (!s) throw new Error(`pack stream ${stream} was not opened`);
    s.update(data, start);
    if (!last) return s.intact;
    this.drop(stream);
    return s.finish();
  }

  drop(stream: number): void {
    this.streams.delete(stream);
    const carry = this.carryOf.get(stream);
    this.carryOf.delete(stream);
    if (carry) this.carries.push(carry);
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

/** Runs one message's job (in a worker, or inline on the pool's thread); undefined: no reply. */
export function runPackJob(jobs: PackJobs, msg: ToPackWorker): FromPackWorker | undefined {
  if (msg.kind === 'drop') {
    jobs.drop(msg.stream);
    return undefined;
  }
  const data = Buffer.from(msg.data, 0, msg.length);
  try {
    if (msg.kind === 'piece') return { kind: 'piece-done', job: msg.job, sound: jobs.piece(msg.stream, data, msg.start, msg.open, msg.last) };
    jobs.restore(data, msg.start, msg.blobs);
    return { kind: 'restored', job: msg.job };
  } catch (err) {
    return { kind: 'failed', job: msg.job, message: (err as Error).message ?? String(err), integrity: err instanceof IntegrityError };
  }
}
