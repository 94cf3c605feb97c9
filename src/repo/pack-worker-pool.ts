/**
 * Worker threads that verify (check --read-data) and restore packs: decrypting, decompressing and
 * hashing run on every core while the main thread reads packs and plans.
 *
 * Pack bytes travel in a fixed set of shared-memory slots: the backend reads straight into a
 * slot, the worker decodes in place, and the slot is reused, so memory stays flat with no per-pack
 * garbage. Verification streams each pack through slots of `slotSize` (2 MiB for check), two
 * pieces of a pack in flight at a time (one decoded while the next is read); restore reads runs of
 * blobs into slots that hold them whole. With `workers: 0` the same jobs run inline.
 */
import { Worker } from 'node:worker_threads';
import type { MasterKey } from './crypto.js';
import { GarbageCollector } from './gc.js';
import { IntegrityError } from './errors.js';
import { defaultWorkerCount } from './file-saver-pool.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import { PackJobs, runPackJob } from './pack-jobs.js';
import { byOffset, cutPieces, streamable } from './pack-stream.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker, WriteTarget } from './pack-worker-protocol.js';
import { workerScript } from './worker-entry.js';

/** A decoding thread: a worker, or the calling thread itself (`worker` undefined). */
interface Decoder {
  worker: Worker | undefined;
  /** Packs being streamed through this worker. */
  streams: number;
  /** Jobs sent and not answered yet. */
  busy: number;
}

/**
 * Pieces of a verified pack. Small enough that the slots (two per worker) cost little, large
 * enough that a piece holds several of the typical 1 MiB blobs and the per-piece message and read
 * are amortised; blobs larger than a piece are verified across pieces.
 */
export const VERIFY_PIECE = 2 * 1024 * 1024;

/** Loads `length` bytes at pack offset `offset`, into `into` when given (backends honour it). */
export type RangeLoader = (offset: number, length: number, into?: Uint8Array) => Promise<Buffer>;
export type Loader = (into: Uint8Array) => Promise<Buffer>;

/** The loaded bytes in the slot: backends honour `into`, but a wrapper that ignores it still works. */
async function loadIntoSlot(load: Loader, sab: SharedArrayBuffer, size: number): Promise<Buffer> {
  const view = new Uint8Array(sab, 0, size);
  const data = await load(view);
  if (data.buffer === sab && data.byteOffset === 0) return data;
  if (data.length > sab.byteLength) throw new RangeError(`loaded ${data.length} bytes into a slot of ${sab.byteLength}`);
  const inSlot = Buffer.from(sab, 0, data.length);
  data.copy(inSlot);
  return inSlot;
}

export interface PackPoolOptions {
  /** Worker threads (default: one per core; 0 decodes on the calling thread). */
  workers?: number;
  /** The size most jobs need; a bigger restore run gets a buffer of its own for the job. */
  slotSize: number;
  /** Shared slots per decoder (default: one per worker, plus `readsInFlight` being read). */
  slotsPerWorker?: number;
  /**
   * Slots being filled by the backend at once beside those being decoded (default 1). Object
   * storage answers a 4 MiB range in tens of milliseconds, so a restore from it keeps a request
   * per connection in flight; with one, workers sat idle waiting for the next read.
   */
  readsInFlight?: number;
}

export class PackWorkerPool {
  private readonly decoders: Decoder[] = [];
  private started = false;
  private closing = false;
  private failure: Error | undefined;
  private readonly pending = new Map<number, { resolve: (m: FromPackWorker) => void; reject: (e: Error) => void }>();
  private nextJob = 1;
  private nextStream = 1;
  /** The calling thread's decoder, when it is one. */
  private readonly inline: PackJobs | undefined;
  private readonly script: URL | undefined;
  private readonly free: SharedArrayBuffer[] = [];
  private slotsMade = 0;
  private waiters: (() => void)[] = [];
  /** Whole-pack verification on this thread, one pack at a time (see `verifyWhole`). */
  private whole: PackJobs | undefined;
  private wholeQueue: Promise<unknown> = Promise.resolve();
  private readonly slotSize: number;
  /** How many worker threads decode. */
  readonly size: number;
  /** How many pieces may be in flight at once: callers size their concurrency from this. */
  readonly slots: number;

  constructor(private readonly key: MasterKey, opts: PackPoolOptions) {
    this.script = workerScript('pack-worker', import.meta.url);
    this.size = this.script ? opts.workers ?? defaultWorkerCount() : 0;
    this.slotSize = opts.slotSize;
    if (this.size === 0) {
      // Decryption allocates in small pieces: collect every 2 MiB decoded, as workers do.
      const collector = new GarbageCollector(2 * 1024 * 1024);
      this.inline = new PackJobs(key, (bytes) => collector.processed(bytes));
      this.decoders.push({ worker: undefined, streams: 0, busy: 0 });
    }
    const decoders = this.size + this.decoders.length;
    this.slots = opts.slotsPerWorker !== undefined ? decoders * opts.slotsPerWorker : this.size + Math.max(1, opts.readsInFlight ?? 1);
  }

  /** Packs worth verifying at once: one per decoder. */
  get streams(): number {
    return this.size + (this.inline ? 1 : 0);
  }

  private start(): void {
    this.started = true;
    const init: PackWorkerInit = { key: { encrypt: this.key.encrypt, macK: this.key.macK, macR: this.key.macR } };
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(this.script!, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      const slot: Decoder = { worker, streams: 0, busy: 0 };
      worker.on('message', (m: FromPackWorker) => {
        slot.busy--;
        const p = this.pending.get(m.job);
        this.pending.delete(m.job);
        p?.resolve(m);
      });
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`pack worker exited with code ${code}`));
      });
      this.decoders.push(slot);
    }
  }

  /**
   * A shared buffer of at least `size` bytes, waiting while all slots are in use. A job larger than
   * a slot (a blob bigger than a restore run) gets a buffer of its own, dropped after the job: a
   * slot grown for it would keep the extra memory for the rest of the run.
   */
  private async acquire(size: number): Promise<SharedArrayBuffer> {
    while (this.free.length === 0 && this.slotsMade >= this.slots) await new Promise<void>((r) => this.waiters.push(r));
    if (size <= this.slotSize) {
      const buf = this.free.pop();
      if (buf) return buf;
      this.slotsMade++;
      return new SharedArrayBuffer(this.slotSize);
    }
    // Takes the place of a free slot (dropped) or of one not made yet.
    if (this.free.length > 0) this.free.pop();
    else this.slotsMade++;
    return new SharedArrayBuffer(size);
  }

  private release(buf: SharedArrayBuffer): void {
    if (buf.byteLength > this.slotSize) this.slotsMade--;
    else this.free.push(buf);
    this.waiters.shift()?.();
  }

  /**
   * A worker died (failed to load, crashed): every job waiting on a worker fails, and so does every
   * later one, instead of waiting for a reply that will never come.
   */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** The decoder streaming the fewest packs (or with the fewest jobs); workers start on first use. */
  private pickDecoder(by: 'streams' | 'busy'): Decoder {
    if (!this.started) this.start();
    return this.decoders.reduce((a, b) => (b[by] < a[by] ? b : a));
  }

  /** Runs a job on `target`; resolves with its reply. */
  private dispatch(target: Decoder, msg: Exclude<ToPackWorker, { kind: 'drop' }>): Promise<FromPackWorker> {
    const worker = target.worker;
    if (!worker) return Promise.resolve(runPackJob(this.inline!, msg)!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(msg.job, { resolve, reject });
      target.busy++;
      worker.postMessage(msg);
    });
  }

  /** Tells the thread streaming `stream` to forget it, after the pieces already sent (no reply). */
  private drop(target: Decoder, stream: number): void {
    const msg: ToPackWorker = { kind: 'drop', job: this.nextJob++, stream };
    if (target.worker) target.worker.postMessage(msg);
    else runPackJob(this.inline!, msg);
  }

  /**
   * Verifies pack `packId` of `size` bytes against the index's `blobs`; returns the problems found.
   * The pack streams through the slots; one found damaged (or whose index entries do not tile the
   * file) is verified whole, which names each problem.
   */
  async verify(packId: ID, size: number, load: RangeLoader, blobs: readonly PackedBlob[]): Promise<string[]> {
    const sorted = byOffset(blobs);
    if (!streamable(size, sorted)) return this.verifyWhole(packId, size, load, blobs);
    const target = this.pickDecoder('streams');
    target.streams++;
    const stream = this.nextStream++;
    const pieces = cutPieces(sorted, size, this.slotSize);
    const replies: Promise<FromPackWorker>[] = [];
    let sound = true;
    try {
      for (const [i, { start, end }] of pieces.entries()) {
        // Two pieces in flight: piece i is read while piece i - 1 is decoded.
        if (i >= 2 && !isSound(await replies[i - 2]!)) {
          sound = false;
          break;
        }
        const sab = await this.acquire(end - start);
        let reply: Promise<FromPackWorker>;
        try {
          const data = await loadIntoSlot((into) => load(start, end - start, into), sab, end - start);
          reply = this.dispatch(target, {
            kind: 'piece', job: this.nextJob++, stream, data: sab, length: data.length, start,
            ...(i === 0 ? { open: { packId, size, blobs: sorted } } : {}), last: i === pieces.length - 1,
          });
        } catch (err) {
          this.release(sab);
          throw err;
        }
        const settled = reply.finally(() => this.release(sab));
        // Awaited below (or in the clean-up); until then a failure must not count as unhandled.
        settled.catch(() => undefined);
        replies.push(settled);
      }
      if (sound) sound = (await Promise.all(replies)).every(isSound);
    } catch (err) {
      sound = false;
      throw err;
    } finally {
      if (!sound && replies.length > 0) {
        this.drop(target, stream);
        await Promise.allSettled(replies);
      }
      target.streams--;
    }
    return sound ? [] : this.verifyWhole(packId, size, load, blobs);
  }

  /**
   * Loads a whole pack into a buffer of its own and verifies it on this thread, one pack at a time:
   * only damaged packs and packs whose index entries do not tile the file come here.
   */
  private verifyWhole(packId: ID, size: number, load: RangeLoader, blobs: readonly PackedBlob[]): Promise<string[]> {
    const run = this.wholeQueue.then(async () => {
      const data = await load(0, size);
      return (this.whole ??= new PackJobs(this.key)).verify(packId, data, blobs);
    });
    this.wholeQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * Loads `size` bytes of a pack (starting at pack offset `start`) with `load`, then decodes and
   * writes the blobs; rejects with IntegrityError on damage, before writing the damaged blob.
   */
  async restore(size: number, load: Loader, start: number, blobs: { blob: PackedBlob; targets: WriteTarget[] }[]): Promise<void> {
    const sab = await this.acquire(size);
    try {
      const data = await loadIntoSlot(load, sab, size);
      const target = this.pickDecoder('busy');
      const reply = await this.dispatch(target, { kind: 'restore', job: this.nextJob++, data: sab, length: data.length, start, blobs });
      if (reply.kind === 'failed') throw reply.integrity ? new IntegrityError(reply.message) : new Error(reply.message);
    } finally {
      this.release(sab);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.decoders.map((d) => d.worker?.terminate()));
  }
}

function isSound(reply: FromPackWorker): boolean {
  return reply.kind === 'piece-done' && reply.sound;
}
