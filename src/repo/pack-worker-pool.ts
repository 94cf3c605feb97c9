/**
 * Worker threads that verify (check --read-data) and restore packs: decrypting, decompressing and
 * hashing run on every core while the main thread reads packs and plans.
 *
 * Pack bytes travel in a fixed set of shared-memory slots (workers + 1, so one pack is being read
 * while every worker decodes): the backend reads straight into a slot, the worker decodes in
 * place, and the slot is reused. Memory stays at a few packs' worth with no per-pack garbage.
 * With `workers: 0` the same jobs run inline.
 */
import { Worker } from 'node:worker_threads';
import type { MasterKey } from './crypto.js';
import { IntegrityError } from './errors.js';
import { defaultWorkerCount } from './file-saver-pool.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import { PackJobs } from './pack-jobs.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker, WriteTarget } from './pack-worker-protocol.js';
import { workerScript } from './worker-entry.js';

interface WorkerSlot {
  worker: Worker;
  busy: number;
}

/** Coffer's packs (16 MiB plus header) fit; a larger one (restic allows up to 128 MiB) grows its slot. */
export const PACK_SLOT = 17 * 1024 * 1024;

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

export class PackWorkerPool {
  private readonly workers: WorkerSlot[] = [];
  private readonly pending = new Map<number, { resolve: (m: FromPackWorker) => void; reject: (e: Error) => void }>();
  private nextJob = 1;
  private readonly inline: PackJobs | undefined;
  private readonly script: URL | undefined;
  private readonly free: SharedArrayBuffer[] = [];
  private slotsMade = 0;
  private waiters: (() => void)[] = [];
  /** How many workers decode (0: inline). */
  readonly size: number;
  /** How many packs may be in flight at once: callers size their concurrency from this. */
  readonly slots: number;

  /** `slotSize`: the size most jobs need; a bigger job grows the slot it gets. */
  constructor(private readonly key: MasterKey, workers = defaultWorkerCount(), private readonly slotSize = PACK_SLOT) {
    this.script = workerScript('pack-worker', import.meta.url);
    this.size = this.script ? workers : 0;
    this.slots = this.size + 1;
    if (this.size === 0) this.inline = new PackJobs(key);
  }

  private start(): void {
    const init: PackWorkerInit = { key: { encrypt: this.key.encrypt, macK: this.key.macK, macR: this.key.macR } };
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(this.script!, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      const slot: WorkerSlot = { worker, busy: 0 };
      worker.on('message', (m: FromPackWorker) => {
        slot.busy--;
        const p = this.pending.get(m.job);
        this.pending.delete(m.job);
        p?.resolve(m);
      });
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(slot);
    }
  }

  /** Runs `fn` with a shared buffer of at least `size` bytes, waiting while all slots are in use. */
  private async withSlot<T>(size: number, fn: (buf: SharedArrayBuffer) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.free.length > 0 || this.slotsMade < this.slots) break;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    let buf = this.free.pop();
    if (!buf) this.slotsMade++;
    if (!buf || buf.byteLength < size) buf = new SharedArrayBuffer(Math.max(size, this.slotSize));
    try {
      return await fn(buf);
    } finally {
      this.free.push(buf);
      this.waiters.shift()?.();
    }
  }

  private send(msg: ToPackWorker): Promise<FromPackWorker> {
    if (this.workers.length === 0) this.start();
    const w = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    w.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(msg.job, { resolve, reject });
      w.worker.postMessage(msg);
    });
  }

  /** Loads a whole pack of `size` bytes with `load` and verifies it; returns the problems found. */
  async verify(packId: ID, size: number, load: Loader, blobs: readonly PackedBlob[]): Promise<string[]> {
    return this.withSlot(size, async (sab) => {
      const data = await loadIntoSlot(load, sab, size);
      if (this.inline) return this.inline.verify(packId, data, blobs);
      const reply = await this.send({ kind: 'verify', job: this.nextJob++, packId, data: sab, length: data.length, blobs: [...blobs] });
      if (reply.kind === 'failed') return [reply.message];
      return reply.kind === 'verified' ? reply.problems : [];
    });
  }

  /**
   * Loads `size` bytes of a pack (starting at pack offset `start`) with `load`, then decodes and
   * writes the blobs; rejects with IntegrityError on damage, before writing the damaged blob.
   */
  async restore(size: number, load: Loader, start: number, blobs: { blob: PackedBlob; targets: WriteTarget[] }[]): Promise<void> {
    await this.withSlot(size, async (sab) => {
      const data = await loadIntoSlot(load, sab, size);
      if (this.inline) return this.inline.restore(data, start, blobs);
      const reply = await this.send({ kind: 'restore', job: this.nextJob++, data: sab, length: data.length, start, blobs });
      if (reply.kind === 'failed') throw reply.integrity ? new IntegrityError(reply.message) : new Error(reply.message);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.worker.terminate()));
  }
}
