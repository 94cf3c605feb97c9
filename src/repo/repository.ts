/**
 * One open restic-format repository: its config, master key and index, and the primitives every
 * command builds on (load/save unpacked files, load/save blobs, snapshots). Blob saving goes
 * through `BlobSaver`, which fills packs per blob type and uploads them with bounded concurrency.
 */
import {
  type Backend,
  type FileType,
  NotFoundError,
  isNotFound,
} from '../storage/index.js';
import { decodeBlob } from './blob-codec.js';
import { type MasterKey, newMasterKey } from './crypto.js';
import { type RepoConfig, newConfig, parseConfig } from './config.js';
import { IntegrityError, NotFoundInRepoError, RepoError, RepoNotFoundError } from './errors.js';
import { type ID, hashId, isId } from './ids.js';
import { DEFAULT_KDF, type KDFParams, addKey, openWithPassword } from './keys.js';
import { mapLimit } from './concurrency.js';
import { type BlobLocation, MasterIndex } from './master-index.js';
import { type BlobType, type PackedBlob, plaintextLength } from './pack.js';
import { BlobSaver } from './blob-saver.js';
import { type Snapshot, type SnapshotJSON, parseSnapshot, sortNewestFirst } from './snapshot.js';
import { decodeUnpacked, encodeUnpacked } from './unpacked.js';
import { TreePackCache } from './tree-pack-cache.js';

export interface InitOptions {
  kdf?: KDFParams;
  /** Repository format version; 2 (compression) unless asked otherwise. */
  version?: 1 | 2;
}

export class Repository {
  readonly index = new MasterIndex();
  private saver: BlobSaver | undefined;
  /** Writes (but not lock files) wait for this: see `withLockOverlapped`. */
  private writeGate: Promise<unknown> = Promise.resolve();

  /** Whole tree packs kept in memory, for remote repositories only (tree-pack-cache.ts). */
  private readonly treePacks: TreePackCache | undefined;

  private constructor(
    readonly backend: Backend,
    readonly key: MasterKey,
    readonly config: RepoConfig,
    readonly keyId: ID,
  ) {
    this.treePacks = backend.capabilities().remote ? new TreePackCache(backend) : undefined;
  }

  get compress(): boolean {
    return this.config.version >= 2;
  }

  /** Creates a new repository; fails if one already exists at the location. */
  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    let exists = false;
    try {
      await backend.stat({ type: 'config', name: '' });
      exists = true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (exists) throw new RepoError(`repository at ${backend.location} already exists`);
    await backend.create();
    const master = newMasterKey();
    const config = { ...newConfig(), version: opts.version ?? 2 };
    // The key first: a config without a key could never be opened, a key without config is harmless.
    const keyId = await addKey(backend, master, password, opts.kdf ?? DEFAULT_KDF);
    await backend.save({ type: 'config', name: '' }, encodeUnpacked(master, config, false));
    return new Repository(backend, master, config, keyId);
  }

  static async open(backend: Backend, password: string): Promise<Repository> {
    let rawConfig: Buffer;
    try {
      rawConfig = await backend.load({ type: 'config', name: '' });
    } catch (err) {
      if (err instanceof NotFoundError) throw new RepoNotFoundError(`repository ${backend.location} does not exist: no config file`, { cause: err });
      throw err;
    }
    const { key, keyId } = await openWithPassword(backend, password);
    const config = parseConfig(decodeUnpacked(key, rawConfig, 'config'));
    return new Repository(backend, key, config, keyId);
  }

  async loadIndex(): Promise<void> {
    await this.index.load(this.backend, this.key);
  }

  // ---- unpacked files ----

  /** Makes every later write to the repository (packs, index, snapshots) wait for `gate`. */
  holdWritesUntil(gate: Promise<unknown>): void {
    this.writeGate = gate;
  }

  async saveUnpacked(type: Exclude<FileType, 'pack' | 'config' | 'key'>, value: unknown): Promise<ID> {
    if (type !== 'lock') await this.writeGate;
    const sealed = encodeUnpacked(this.key, value, this.compress);
    const id = hashId(sealed);
    await this.backend.save({ type, name: id }, sealed);
    return id;
  }

  async loadUnpacked(type: Exclude<FileType, 'pack' | 'config' | 'key'>, id: ID): Promise<unknown> {
    const raw = await this.backend.load({ type, name: id });
    if (hashId(raw) !== id) throw new IntegrityError(`${type} ${id}: content does not match its name`);
    return decodeUnpacked(this.key, raw, `${type} ${id}`);
  }

  /** Resolves a unique id prefix among the files of one type. */
  async resolveId(type: FileType, prefix: string): Promise<ID> {
    if (isId(prefix)) return prefix;
    const matches: ID[] = [];
    for await (const f of this.backend.list(type)) if (f.name.startsWith(prefix)) matches.push(f.name);
    if (matches.length === 0) throw new NotFoundInRepoError(`no ${type} matching ${prefix}`);
    if (matches.length > 1) throw new NotFoundInRepoError(`prefix ${prefix} is ambiguous (${matches.length} ${type} files)`);
    return matches[0]!;
  }

  // ---- blobs ----

  /** Decrypts, decompresses and verifies one blob read from its pack. */
  decodeBlob(sealed: Buffer, blob: PackedBlob): Buffer {
    return decodeBlob(this.key, sealed, blob);
  }

  /**
   * The blob's bytes as stored in its pack, not yet decoded. Trees of a remote repository come
   * from their whole pack, fetched once (tree-pack-cache.ts); everything else is one ranged read.
   */
  loadSealed(type: BlobType, loc: BlobLocation): Promise<Buffer> {
    return type === 'tree' && this.treePacks
      ? this.treePacks.read(loc.packId, loc.blob.offset, loc.blob.length)
      : this.backend.load({ type: 'pack', name: loc.packId }, loc.blob.offset, loc.blob.length);
  }

  /** Loads and verifies a blob; a damaged copy is skipped when the blob is stored elsewhere too. */
  async loadBlob(type: BlobType, id: ID): Promise<Buffer> {
    const copies = this.index.lookupAll(type, id);
    if (copies.length === 0) throw new NotFoundInRepoError(`${type} blob ${id} not found in index`);
    let lastError: unknown;
    for (const loc of copies) {
      try {
        return this.decodeBlob(await this.loadSealed(type, loc), loc.blob);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  blobSize(type: BlobType, id: ID): number | undefined {
    const loc = this.index.lookup(type, id);
    return loc ? plaintextLength(loc.blob) : undefined;
  }

  /** The pack writer for this session, created on first use. */
  blobSaver(packSize?: number): BlobSaver {
    this.saver ??= new BlobSaver(this.backend, this.key, this.index, this.compress, packSize, () => this.writeGate);
    return this.saver;
  }

  /** Uploads open packs, then writes index files for everything saved (packs before index). */
  async flush(): Promise<void> {
    if (this.saver) await this.saver.flush();
    await this.index.flush(this.backend, this.key, this.compress);
  }

  // ---- snapshots ----

  async saveSnapshot(snap: SnapshotJSON): Promise<ID> {
    return this.saveUnpacked('snapshot', snap);
  }

  async loadSnapshot(id: ID): Promise<Snapshot> {
    return parseSnapshot(await this.loadUnpacked('snapshot', id), id);
  }

  /** All snapshots, newest first. Damaged snapshot files are reported through `onError`, not fatal. */
  async listSnapshots(onError?: (id: ID, err: unknown) => void): Promise<Snapshot[]> {
    const ids: ID[] = [];
    for await (const f of this.backend.list('snapshot')) ids.push(f.name);
    const out: Snapshot[] = [];
    await mapLimit(ids, 8, async (id) => {
      try {
        out.push(await this.loadSnapshot(id));
      } catch (err) {
        if (!onError) throw err;
        onError(id, err);
      }
    });
    return sortNewestFirst(out);
  }

  /** `latest` (optionally filtered by host/paths/tags) or an id prefix. */
  async findSnapshot(ref: string, filter: SnapshotFilter = {}): Promise<Snapshot> {
    if (ref === 'latest') {
      const match = (await this.listSnapshots()).find((s) => matchesFilter(s, filter));
      if (!match) throw new NotFoundInRepoError('no snapshot found');
      return match;
    }
    return this.loadSnapshot(await this.resolveId('snapshot', ref));
  }
}

export interface SnapshotFilter {
  host?: string;
  paths?: string[];
  tags?: string[];
}

export function matchesFilter(s: SnapshotJSON, f: SnapshotFilter): boolean {
  if (f.host !== undefined && s.hostname !== f.host) return false;
  if (f.paths && f.paths.length > 0) {
    const a = [...s.paths].sort();
    const b = [...f.paths].sort();
    if (a.length !== b.length || a.some((p, i) => p !== b[i])) return false;
  }
  if (f.tags && f.tags.length > 0 && !f.tags.every((t) => s.tags?.includes(t))) return false;
  return true;
}
