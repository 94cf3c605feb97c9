/**
 * Worker threads that verify (check --read-data) and restore packs: decrypting, decompressing and
 * hashing run on every core while the main thread reads packs and plans. Pack bytes are
 * transferred, not copied. With `workers: 0` the same jobs run inline.
 */
import { Worker } from 'node:worker_threads';
import type { MasterKey } from './crypto.js';
import { IntegrityError } from './errors.js';
import { defaultWorkerCount } from './file-saver-pool.js';
import type { ID } from './ids.js';
import type { PackedBlob } from './pack.js';
import { workerScript } from './worker-entry.js';
import { PackJobs } from './pack-jobs.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker, WriteTarget } from './pack-worker-protocol.js';

interface Slot {
  worker: Worker;
  busy: number;
}

/** Transferable view of a buffer: its own ArrayBuffer when it spans it, else a copy. */
function transferable(buf: Buffer): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return new Uint8Array(buf.buffer, 0, buf.byteLength);
  return new Uint8Array(buf);
}

export class PackWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (m: FromPackWorker) => void; reject: (e: Error) => void }>();
  private nextJob = 1;
  private readonly inline: PackJobs | undefined;
  readonly size: number;

  private readonly script: URL | undefined;

  constructor(private readonly key: MasterKey, workers = defaultWorkerCount()) {
    this.script = workerScript('pack-worker', import.meta.url);
    this.size = this.script ? workers : 0;
    if (this.size === 0) this.inline = new PackJobs(key);
  }

  private start(): void {
    const init: PackWorkerInit = { key: { encrypt: this.key.encrypt, macK: this.key.macK, macR: this.key.macR } };
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(this.script!, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      const slot: Slot = { worker, busy: 0 };
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
      this.slots.push(slot);
    }
  }

  private send(msg: ToPackWorker, data: Uint8Array): Promise<FromPackWorker> {
    if (this.slots.length === 0) this.start();
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(msg.job, { resolve, reject });
      slot.worker.postMessage(msg, [data.buffer as ArrayBuffer]);
    });
  }

  async verify(packId: ID, data: Buffer, blobs: PackedBlob[] | readonly PackedBlob[]): Promise<string[]> {
    if (this.inline) return this.inline.verify(packId, data, blobs);
    const view = transferable(data);
    const reply = await this.send({ kind: 'verify', job: this.nextJob++, packId, data: view, blobs: [...blobs] }, view);
    if (reply.kind === 'failed') return [reply.message];
    return reply.kind === 'verified' ? reply.problems : [];
  }

  /** Decodes and writes a run of blobs read from one pack; rejects (IntegrityError) on damage. */
  async restore(data: Buffer, start: number, blobs: { blob: PackedBlob; targets: WriteTarget[] }[]): Promise<void> {
    if (this.inline) return this.inline.restore(data, start, blobs);
    const view = transferable(data);
    const reply = await this.send({ kind: 'restore', job: this.nextJob++, data: view, start, blobs }, view);
    if (reply.kind === 'failed') throw reply.integrity ? new IntegrityError(reply.message) : new Error(reply.message);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
