/**
 * The in-memory index of every blob in the repository, loaded from the `index/` files
 * (design.rst "Indexing"), plus the packs written in this session. Data and tree blobs are kept
 * apart, as restic does: a blob is identified by its type and id together.
 */
import type { Backend } from '../storage/index.js';
import type { MasterKey } from './crypto.js';
import { IntegrityError } from './errors.js';
import { type ID, hashId, isId } from './ids.js';
import type { BlobType, PackedBlob } from './pack.js';
import { decodeUnpacked, encodeUnpacked } from './unpacked.js';
import { mapLimit } from './concurrency.js';

export interface BlobLocation {
  readonly packId: ID;
  readonly blob: PackedBlob;
}

interface IndexFileJSON {
  supersedes?: ID[];
  packs: { id: ID; blobs: { id: ID; type: BlobType; offset: number; length: number; uncompressed_length?: number }[] }[];
}

/** restic keeps index files below 8 MiB; 50,000 blobs of JSON is well below that. */
const MAX_BLOBS_PER_INDEX_FILE = 50_000;

export class MasterIndex {
  private readonly data = new Map<ID, BlobLocation>();
  private readonly tree = new Map<ID, BlobLocation>();
  readonly packs = new Map<ID, PackedBlob[]>();
  /** Index files that were loaded, and the packs each one lists. */
  readonly files = new Map<ID, ID[]>();
  /** Packs added in this session and not yet written to an index file. */
  private pending: ID[] = [];

  private map(type: BlobType): Map<ID, BlobLocation> {
    return type === 'tree' ? this.tree : this.data;
  }

  has(type: BlobType, id: ID): boolean {
    return this.map(type).has(id);
  }

  lookup(type: BlobType, id: ID): BlobLocation | undefined {
    return this.map(type).get(id);
  }

  get blobCount(): number {
    return this.data.size + this.tree.size;
  }

  *allBlobs(): Iterable<BlobLocation> {
    yield* this.data.values();
    yield* this.tree.values();
  }

  /** Other copies of blobs stored more than once, for reading around a damaged copy. */
  private readonly extraCopies = new Map<string, BlobLocation[]>();

  /** Adds a pack's blobs. A blob already known elsewhere keeps its first location (a duplicate). */
  addPack(packId: ID, blobs: readonly PackedBlob[], pending: boolean): void {
    if (!this.packs.has(packId) && pending) this.pending.push(packId);
    this.packs.set(packId, [...blobs]);
    for (const blob of blobs) {
      const m = this.map(blob.type);
      const first = m.get(blob.id);
      if (!first) m.set(blob.id, { packId, blob });
      else if (first.packId !== packId) {
        const key = `${blob.type}:${blob.id}`;
        const extra = this.extraCopies.get(key) ?? [];
        extra.push({ packId, blob });
        this.extraCopies.set(key, extra);
      }
    }
  }

  /** Every stored copy of a blob, the primary one first. */
  lookupAll(type: BlobType, id: ID): BlobLocation[] {
    const first = this.lookup(type, id);
    return first ? [first, ...(this.extraCopies.get(`${type}:${id}`) ?? [])] : [];
  }

  get pendingPacks(): number {
    return this.pending.length;
  }

  /** Loads every index file. Damaged files throw with their name so check can report them. */
  async load(backend: Backend, key: MasterKey): Promise<void> {
    const names: ID[] = [];
    for await (const f of backend.list('index')) names.push(f.name);
    await mapLimit(names, 8, async (name) => {
      const raw = await backend.load({ type: 'index', name });
      if (hashId(raw) !== name) throw new IntegrityError(`index ${name}: content does not match its name`);
      this.addIndexFile(name, parseIndexFile(decodeUnpacked(key, raw, `index ${name}`), name));
    });
  }

  addIndexFile(name: ID, json: IndexFileJSON): void {
    const packIds: ID[] = [];
    for (const p of json.packs) {
      packIds.push(p.id);
      this.addPack(
        p.id,
        p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, uncompressedLength: b.uncompressed_length ?? 0 })),
        false,
      );
    }
    this.files.set(name, packIds);
  }

  /** Writes index files for the packs saved in this session; returns their ids. */
  async flush(backend: Backend, key: MasterKey, compress: boolean, supersedes: ID[] = []): Promise<ID[]> {
    const packIds = this.pending;
    this.pending = [];
    const written = await writeIndexFiles(backend, key, compress, packIds.map((id) => [id, this.packs.get(id)!] as const), supersedes);
    return written;
  }
}

export async function writeIndexFiles(backend: Backend, key: MasterKey, compress: boolean,
  packs: readonly (readonly [ID, readonly PackedBlob[]])[], supersedes: ID[]): Promise<ID[]> {
  const written: ID[] = [];
  let batch: IndexFileJSON['packs'] = [];
  let blobsInBatch = 0;
  const emit = async (): Promise<void> => {
    const json: IndexFileJSON = { packs: batch };
    // Only the first file carries `supersedes`: the superseded files may go once all new ones exist.
    if (written.length === 0 && supersedes.length > 0) json.supersedes = supersedes;
    const sealed = encodeUnpacked(key, json, compress);
    const id = hashId(sealed);
    await backend.save({ type: 'index', name: id }, sealed);
    written.push(id);
    batch = [];
    blobsInBatch = 0;
  };
  for (const [packId, blobs] of packs) {
    batch.push({
      id: packId,
      blobs: blobs.map((b) => ({
        id: b.id, type: b.type, offset: b.offset, length: b.length,
        ...(b.uncompressedLength > 0 ? { uncompressed_length: b.uncompressedLength } : {}),
      })),
    });
    blobsInBatch += blobs.length;
    if (blobsInBatch >= MAX_BLOBS_PER_INDEX_FILE) await emit();
  }
  if (batch.length > 0 || (written.length === 0 && supersedes.length > 0)) await emit();
  return written;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function parseIndexFile(json: unknown, name: ID): IndexFileJSON {
  // restic before 0.8 wrote a bare list of packs; restic still reads that format, so do we.
  const j = (Array.isArray(json) ? { packs: json } : json) as Partial<IndexFileJSON> | null;
  if (!j || !Array.isArray(j.packs)) throw new IntegrityError(`index ${name}: invalid shape`);
  for (const p of j.packs) {
    if (!isId(p?.id) || !Array.isArray(p.blobs)) throw new IntegrityError(`index ${name}: invalid pack entry`);
    for (const b of p.blobs) {
      if (!isId(b?.id) || (b.type !== 'data' && b.type !== 'tree') || !isCount(b.offset) || !isCount(b.length) ||
          (b.uncompressed_length !== undefined && !isCount(b.uncompressed_length))) {
        throw new IntegrityError(`index ${name}: invalid blob entry in pack ${p.id}`);
      }
    }
  }
  return j as IndexFileJSON;
}
