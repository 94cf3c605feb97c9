/**
 * Fills packs with sealed blobs, one open pack per blob type (format v2 requires data and tree
 * blobs in separate packs), and uploads full packs with at most `connections` uploads in flight.
 * Packs are written to temporary files as blobs arrive (`PackFile`), so no pack is held in memory.
 * `add` waits while uploads are saturated, which is the pipeline's backpressure towards the
 * workers that produce blobs (they are paused through `onPressure`).
 */
import { tmpdir } from 'node:os';
import type { Backend } from '../storage/index.js';
import { compressBlob } from './compression.js';
import { type MasterKey, seal } from './crypto.js';
import { type ID, hashId } from './ids.js';
import type { MasterIndex } from './master-index.js';
import type { BlobType } from './pack.js';
import { PackFile } from './pack-file.js';

/** restic's default pack size since 0.14. */
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface SaveResult {
  /** False when the blob was already stored (deduplicated). */
  readonly stored: boolean;
  /** Bytes added to packs (sealed size) for a stored blob. */
  readonly packedBytes: number;
}

export class BlobSaver {
  private readonly open: Record<BlobType, PackFile | undefined> = { data: undefined, tree: undefined };
  /** Ids saved this session but whose pack is not uploaded yet: dedup must see them too. */
  private readonly inFlight: Record<BlobType, Set<ID>> = { data: new Set(), tree: new Set() };
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;
  private readonly connections: number;
  private readonly tempDir: string;
  private waitingForSlot = 0;
  /** Told when blob producers should pause (all upload slots busy) and resume. */
  onPressure: ((paused: boolean) => void) | undefined;
  packsWritten = 0;
  bytesUploaded = 0;

  constructor(
    private readonly backend: Backend,
    private readonly key: MasterKey,
    private readonly index: MasterIndex,
    private readonly compress: boolean,
    private readonly packSize = DEFAULT_PACK_SIZE,
    /** Uploads wait for this (the repository lock settling); packing goes on meanwhile. */
    private readonly writeGate: () => Promise<unknown> = () => Promise.resolve(),
  ) {
    const caps = backend.capabilities();
    this.connections = Math.max(1, caps.connections);
    this.tempDir = caps.tempDir ?? tmpdir();
  }

  /** Known in the repository or in this session's packs. */
  has(type: BlobType, id: ID): boolean {
    return this.index.has(type, id) || this.inFlight[type].has(id);
  }

  /** Compresses, seals and adds a plaintext blob (trees, small data) unless already stored. */
  async save(type: BlobType, plain: Uint8Array, id: ID = hashId(plain)): Promise<SaveResult> {
    if (this.has(type, id)) return { stored: false, packedBytes: 0 };
    const compressed = this.compress ? compressBlob(plain) : null;
    const sealed = seal(this.key, compressed ?? plain);
    return this.addSealed(type, id, sealed, compressed ? plain.length : 0);
  }

  /** Adds a blob already compressed and sealed elsewhere (by a worker thread). */
  async addSealed(type: BlobType, id: ID, sealed: Uint8Array, uncompressedLength: number): Promise<SaveResult> {
    this.throwIfFailed();
    if (this.has(type, id)) return { stored: false, packedBytes: 0 };
    await this.addSealedForce(type, id, sealed, uncompressedLength);
    return { stored: true, packedBytes: sealed.length };
  }

  /**
   * Adds a sealed blob even if the index knows it: prune moves blobs out of packs it deletes.
   * The blob is written before this function first awaits, so the caller may reuse `sealed`'s
   * memory as soon as the call returns its promise.
   */
  async addSealedForce(type: BlobType, id: ID, sealed: Uint8Array, uncompressedLength: number): Promise<void> {
    this.throwIfFailed();
    if (this.inFlight[type].has(id)) return;
    this.inFlight[type].add(id);
    // A pack never grows past packSize (plus its header): a blob that would overflow it starts the
    // next pack, so readers can size one buffer for any pack Coffer writes.
    let full: PackFile | undefined;
    let pack = this.open[type];
    if (pack && pack.count > 0 && pack.byteLength + sealed.length > this.packSize) {
      full = pack;
      pack = undefined;
    }
    if (!pack) pack = this.open[type] = PackFile.create(type, this.tempDir);
    pack.add(id, sealed, uncompressedLength);
    if (full) await this.upload(full);
  }

  private async upload(pack: PackFile): Promise<void> {
    if (this.uploads.size >= this.connections) {
      if (this.waitingForSlot++ === 0) this.onPressure?.(true);
      try {
        while (this.uploads.size >= this.connections) await Promise.race(this.uploads);
      } finally {
        if (--this.waitingForSlot === 0) this.onPressure?.(false);
      }
    }
    if (this.failure !== undefined) {
      pack.discard();
      this.throwIfFailed();
    }
    const done = pack.finish(this.key);
    const packId = done.hash.digest('hex');
    const job = (async () => {
      await pack.sync();
      await this.writeGate();
      await this.backend.saveFile({ type: 'pack', name: packId }, done.file);
    })().then(
      () => {
        this.index.addPack(packId, done.blobs, true);
        for (const b of done.blobs) this.inFlight[done.type].delete(b.id);
        this.packsWritten++;
        this.bytesUploaded += done.size;
      },
      (err: unknown) => {
        pack.discard();
        this.failure ??= err;
      },
    );
    const tracked = job.finally(() => this.uploads.delete(tracked));
    this.uploads.add(tracked);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Ends a session that failed or was cancelled, so that the next one on this repository (a retry
   * after a lost lock) starts clean: unfinished packs are deleted, running uploads are waited for,
   * and what was never stored is forgotten. Without this, a retry would rethrow the old failure,
   * and the ids of blobs in deleted packs would pass for stored, leaving the snapshot without them.
   */
  async abandon(): Promise<void> {
    for (const type of ['data', 'tree'] as const) {
      this.open[type]?.discard();
      this.open[type] = undefined;
    }
    while (this.uploads.size > 0) await Promise.all(this.uploads);
    // Uploads that succeeded moved their ids to the index; every id left was never stored.
    for (const type of ['data', 'tree'] as const) this.inFlight[type].clear();
    this.failure = undefined;
  }

  /** Uploads the partly filled packs and waits for every upload. */
  async flush(): Promise<void> {
    for (const type of ['data', 'tree'] as const) {
      const pack = this.open[type];
      this.open[type] = undefined;
      if (pack && pack.count > 0) await this.upload(pack);
    }
    await Promise.all(this.uploads);
    this.throwIfFailed();
  }
}
