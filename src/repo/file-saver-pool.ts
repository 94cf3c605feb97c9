/**
 * Spreads file processing (read → chunk → hash → compress → seal) over worker threads and feeds
 * the resulting blobs into the session's `BlobSaver`. With `workers: 0` the same processing runs
 * inline on the calling thread, which keeps tiny backups and unit tests free of thread start-up.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlobSaver } from './blob-saver.js';
import { SharedIdSet } from './shared-id-set.js';
import { workerScript } from './worker-entry.js';
import type { MasterKey } from './crypto.js';
import { type EmittedBlob, FileProcessor, type FileResult } from './file-processor.js';
import type { ID } from './ids.js';
import { type FromWorker, RING_SIZE, type ToWorker, type WorkerInit } from './worker-protocol.js';

export interface PoolOptions {
  key: MasterKey;
  polynomial: string;
  compress: boolean;
  /** Data blob ids already in the repository. */
  known: readonly ID[];
  saver: BlobSaver;
  workers?: number;
  /** Called for every new blob stored, with its plaintext and packed sizes. */
  onBlob?: (plainLength: number, packedLength: number) => void;
}

export class FileReadError extends Error {
  constructor(readonly path: string, message: string, readonly code?: string) {
    super(message);
  }
}

interface PendingJob {
  resolve: (r: FileResult) => void;
  reject: (e: Error) => void;
  path: string;
  /** Blob saves of this file still running; the file is done only after they are. */
  saves: Promise<unknown>[];
  /** Set once a save failed: the file's later blobs are not saved, its `done` has rejected. */
  failed: boolean;
}

interface WorkerState {
  worker: Worker;
  ring: SharedArrayBuffer;
  released: BigInt64Array;
  inFlight: number;
}

/** Files queued per worker: enough to hide message latency, few enough to balance the load. */
const QUEUE_PER_WORKER = 16;
/** Queued files per running worker at which the next worker is started. */
const BACKLOG = 4;


/**
 * `done` with its failure observed: a file can fail (the pool failing or closing) while its caller
 * is still busy walking, or after it stopped; whoever awaits `done` still sees the error.
 */
function observed<T>(done: Promise<T>): Promise<T> {
  done.catch(() => undefined);
  return done;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}

export class FileSaverPool {
  private readonly workers: WorkerState[] = [];
  private readonly jobs = new Map<number, PendingJob>();
  private nextJob = 1;
  private readonly inline: FileProcessor | undefined;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;
  private closing = false;

  private readonly count: number;
  private readonly script: URL | undefined;

  constructor(private readonly opts: PoolOptions) {
    this.script = workerScript('file-saver-worker', import.meta.url);
    this.count = this.script ? opts.workers ?? defaultWorkerCount() : 0;
    if (this.count === 0) this.inline = new FileProcessor(opts.key, opts.polynomial, opts.compress, new Set(opts.known));
  }

  /** Workers start with the first file to read: a no-change backup never pays for them. */
  private paused: Int32Array | undefined;
  private knownTable: SharedArrayBuffer | undefined;

  /**
   * Starts one more worker. Workers start as the queue demands: the first with the first file to
   * read, each further one only when all running ones are backlogged. A no-change backup starts
   * none, a backup of a few changed files usually one, a first backup all of them at once.
   */
  private startWorker(): void {
    if (!this.paused) {
      const paused = (this.paused = new Int32Array(new SharedArrayBuffer(4)));
      this.opts.saver.onPressure = (on) => {
        Atomics.store(paused, 0, on ? 1 : 0);
        if (!on) Atomics.notify(paused, 0);
      };
      this.knownTable = SharedIdSet.build(this.opts.known);
    }
    const ring = new SharedArrayBuffer(RING_SIZE);
    const released = new SharedArrayBuffer(8);
    const init: WorkerInit = {
      key: { encrypt: this.opts.key.encrypt, macK: this.opts.key.macK, macR: this.opts.key.macR },
      polynomial: this.opts.polynomial,
      compress: this.opts.compress,
      known: this.knownTable!,
      ring,
      released,
      paused: this.paused.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(this.script!, {
      workerData: init,
      // Workers allocate little on the JS heap (blob bytes live in native buffers): a small young
      // generation keeps each isolate's footprint near its floor instead of tens of MiB.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    const state: WorkerState = { worker, ring, released: new BigInt64Array(released), inFlight: 0 };
    worker.on('message', (msg: FromWorker) => this.onMessage(state, msg));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (code !== 0 && !this.closing) this.fail(new Error(`file worker exited with code ${code}`));
    });
    this.workers.push(state);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onMessage(state: WorkerState, msg: FromWorker): void {
    const job = this.jobs.get(msg.job);
    if (!job) return;
    if (msg.kind === 'blob') {
      if (!job.failed) job.saves.push(this.save(job, new Uint8Array(state.ring, msg.offset, msg.length), msg));
      // addSealed has copied the blob by the time it returns its promise: the slot is free.
      Atomics.store(state.released, 0, BigInt(msg.releaseTo));
      Atomics.notify(state.released, 0);
      return;
    }
    this.jobs.delete(msg.job);
    state.inFlight--;
    this.wake();
    if (msg.kind === 'done') {
      const result = { content: msg.content, size: msg.size };
      Promise.all(job.saves).then(() => job.resolve(result), (err: Error) => job.reject(err));
    } else {
      job.reject(new FileReadError(job.path, msg.message, msg.code));
    }
  }

  /**
   * Starts one blob's save, its failure observed at once: the worker's `done` for the file may come
   * much later or never (a read error, the pool failing or closing), and a rejection left without a
   * handler until then would end the process. The file fails with the first failed save.
   */
  private save(job: PendingJob, sealed: Uint8Array, msg: Extract<FromWorker, { kind: 'blob' }>): Promise<void> {
    const save = this.opts.saver.addSealed('data', msg.id, sealed, msg.uncompressedLength).then((r) => {
      if (r.stored) this.opts.onBlob?.(msg.plainLength, r.packedBytes);
    });
    save.catch((err: Error) => {
      job.failed = true;
      job.reject(err);
    });
    return save;
  }

  /**
   * Waits until a worker has room, hands it the file, and returns a handle whose `done` settles
   * once the file's new blobs are with the pack writer. Awaiting `submit` is the walker's
   * backpressure; `done` is awaited by the directory that contains the file.
   */
  async submit(path: string): Promise<{ done: Promise<FileResult> }> {
    if (this.failure) throw this.failure;
    if (this.inline) return { done: observed(this.processInline(path)) };
    let best: WorkerState | undefined;
    for (;;) {
      best = undefined;
      for (const w of this.workers) if (!best || w.inFlight < best.inFlight) best = w;
      if (this.workers.length < this.count && (!best || best.inFlight >= BACKLOG)) {
        this.startWorker();
        continue;
      }
      if (best && best.inFlight < QUEUE_PER_WORKER) break;
      await new Promise<void>((r) => this.waiters.push(r));
      if (this.failure) throw this.failure;
    }
    const job = this.nextJob++;
    const chosen = best;
    chosen.inFlight++;
    const msg: ToWorker = { kind: 'file', job, path };
    const done = new Promise<FileResult>((resolve, reject) => {
      this.jobs.set(job, { resolve, reject, path, saves: [], failed: false });
      chosen.worker.postMessage(msg);
    });
    return { done: observed(done) };
  }

  private async processInline(path: string): Promise<FileResult> {
    // Inline mode is for tests and tiny jobs: each blob gets its own buffer.
    const blobs: EmittedBlob[] = [];
    let result: FileResult;
    try {
      result = this.inline!.processFile(path, {
        reserve: (maxLength) => ({ buf: Buffer.allocUnsafe(maxLength), offset: 0 }),
        commit: (b) => blobs.push(b),
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new FileReadError(path, e.message, e.code);
    }
    for (const b of blobs) {
      const r = await this.opts.saver.addSealed('data', b.id, b.buf.subarray(b.offset, b.offset + b.sealedLength), b.uncompressedLength);
      if (r.stored) this.opts.onBlob?.(b.plainLength, r.packedBytes);
    }
    return result;
  }

  /** Stops the workers; files still pending reject (their callers have stopped waiting for them, or must). */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new Error('the file pool was closed'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
