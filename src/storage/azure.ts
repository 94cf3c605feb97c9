import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  AlreadyExistsError,
  type Backend,
  type BackendCapabilities,
  type FileInfo,
  type FileType,
  type Handle,
  ShortReadError,
  describeHandle,
  isNotFound,
} from './backend.js';
import { type AzureConfig, type AzureRetrySettings, DEFAULT_RETRY, formatAzureLocation, resolveAzureConfig } from './azure-config.js';
import { describeFailure, isStatus, storageError } from './azure-errors.js';
import { handlePath, isStorageName, typeDir } from './layout.js';
import type { BackendOptions } from './options.js';

/**
 * Files larger than this are uploaded as staged blocks of this size, each read from the local file
 * when (re)sent, then committed: constant memory, and a retried block costs one block, not a pack.
 */
const BLOCK_SIZE = 4 * 1024 * 1024;
/** Blocks of one file in flight at once; the uploader already runs `connections` files in parallel. */
const BLOCKS_IN_FLIGHT = 2;
/** Resumed reads of one download body after the connection drops mid-way. */
const DOWNLOAD_RESUMES = 5;
const LIST_PAGE = 5000;
/**
 * Metadata naming the save that wrote a blob. A commit whose answer is lost is retried by the SDK and
 * then meets its own blob (If-None-Match: * fails); the marker tells that apart from a real collision.
 */
const UPLOAD_MARKER = 'cofferupload';

/**
 * A repository in an Azure Blob Storage container, in restic's layout under the location's prefix
 * (`azure:container:/prefix`), so restic's azure backend opens what Coffer writes and vice versa.
 * Writes are conditional (If-None-Match: *), so a stored file is never replaced; a blob becomes
 * visible only when its upload or block list commits, so readers never see a partial file.
 */
export class AzureBackend implements Backend {
  readonly location: string;
  private client: Promise<ContainerClient> | undefined;

  constructor(
    private readonly cfg: AzureConfig,
    private readonly retry: AzureRetrySettings = DEFAULT_RETRY,
  ) {
    this.location = formatAzureLocation(cfg);
  }

  /** The SDK takes ~0.4 s to load: only commands that use an Azure repository pay for it. */
  private container(): Promise<ContainerClient> {
    this.client ??= import('./azure-client.js').then((sdk) => sdk.containerClient(this.cfg, this.retry));
    return this.client;
  }

  static open(rest: string, options: BackendOptions, env: NodeJS.ProcessEnv): AzureBackend {
    return new AzureBackend(resolveAzureConfig(rest, options, env));
  }

  capabilities(): BackendCapabilities {
    return { connections: this.cfg.connections, remote: true };
  }

  private blobName(h: Handle): string {
    return this.cfg.prefix === '' ? handlePath(h) : `${this.cfg.prefix}/${handlePath(h)}`;
  }

  private async blob(h: Handle): Promise<BlockBlobClient> {
    return (await this.container()).getBlockBlobClient(this.blobName(h));
  }

  /** How errors name a file: container and blob name, never the account's URL or credentials. */
  private target(h: Handle): string {
    return `blob ${this.blobName(h)} in container ${this.cfg.container}`;
  }

  async create(): Promise<void> {
    // As restic: look first, so that a SAS scoped to an existing container (no create right) works.
    try {
      await (await this.container()).getProperties();
      return;
    } catch (err) {
      if (!isStatus(err, 'ContainerNotFound') && !is404(err)) throw storageError('open', `container ${this.cfg.container}`, err);
    }
    try {
      await (await this.container()).create();
    } catch (err) {
      if (!isStatus(err, 'ContainerAlreadyExists')) throw storageError('create', `container ${this.cfg.container}`, err);
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const marker = randomUUID();
    const blob = await this.blob(h);
    try {
      await blob.upload(data, data.byteLength, { conditions: { ifNoneMatch: '*' }, metadata: { [UPLOAD_MARKER]: marker } });
    } catch (err) {
      await this.settleConflict(h, blob, marker, err);
    }
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    const marker = randomUUID();
    const blob = await this.blob(h);
    try {
      // uploadFile re-opens the file at the block's offset for every try: retries resend from disk.
      await blob.uploadFile(file, {
        blockSize: BLOCK_SIZE,
        maxSingleShotSize: BLOCK_SIZE,
        concurrency: BLOCKS_IN_FLIGHT,
        conditions: { ifNoneMatch: '*' },
        metadata: { [UPLOAD_MARKER]: marker },
      });
    } catch (err) {
      await this.settleConflict(h, blob, marker, err);
    }
    await rm(file, { force: true });
  }

  /** After a failed upload: success if the blob there is our own (an earlier try's answer was lost), else the error. */
  private async settleConflict(h: Handle, blob: BlockBlobClient, marker: string, err: unknown): Promise<void> {
    if (!isConflict(err)) throw storageError('save', this.target(h), err);
    let stored: string | undefined;
    try {
      stored = (await blob.getProperties()).metadata?.[UPLOAD_MARKER];
    } catch {
      // Cannot tell: the conservative answer is that someone else's file is there.
    }
    if (stored === marker) return;
    throw new AlreadyExistsError(`azure: ${describeHandle(h)} already exists (${this.target(h)})`);
  }

  async load(h: Handle, offset = 0, length?: number, into?: Uint8Array): Promise<Buffer> {
    if (length === 0) {
      const { size } = await this.stat(h);
      if (offset > size) throw new ShortReadError(`azure: ${this.target(h)}: wanted 0 bytes at ${offset}, but it has ${size}`);
      return emptyView(into);
    }
    if (into && length !== undefined && into.length < length) throw new RangeError(`buffer of ${into.length} bytes cannot hold ${length}`);
    const blob = await this.blob(h);
    let response;
    try {
      response = await blob.download(offset, length, { maxRetryRequests: 0 });
    } catch (err) {
      if (length === undefined && isHttp(err, 416)) {
        // Reading "the rest" from exactly the end is an empty read; past the end it is short.
        const { size } = await this.stat(h);
        if (size === offset) return emptyView(into);
      }
      throw storageError('read', this.target(h), err);
    }
    const got = response.contentLength ?? 0;
    const want = length ?? got;
    if (got < want || (into && into.length < want)) {
      response.readableStreamBody?.resume();
      if (got < want) throw new ShortReadError(`azure: ${this.target(h)}: wanted ${want} bytes at ${offset}, got ${got}`);
      throw new RangeError(`buffer of ${into!.length} bytes cannot hold ${want}`);
    }
    const buf = into ? Buffer.from(into.buffer, into.byteOffset, want) : Buffer.allocUnsafe(want);
    let body = response.readableStreamBody;
    const progress = { filled: 0 };
    for (let resumes = 0; ; resumes++) {
      try {
        await fill(buf, progress, body);
      } catch (err) {
        // The connection broke mid-body (the SDK's own resume gives up on Node's "aborted"): ask for
        // the rest of the same version of the blob, a few times, before reporting the failure.
        if (resumes >= DOWNLOAD_RESUMES) throw storageError('read', this.target(h), err);
      }
      const filled = progress.filled;
      if (filled >= want) return buf;
      if (resumes >= DOWNLOAD_RESUMES) throw new ShortReadError(`azure: ${this.target(h)}: wanted ${want} bytes at ${offset}, got ${filled}`);
      try {
        const rest = await blob.download(offset + filled, want - filled, { maxRetryRequests: 0, conditions: { ifMatch: response.etag } });
        body = rest.readableStreamBody;
      } catch (err) {
        throw storageError('read', this.target(h), err);
      }
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    try {
      const props = await (await this.blob(h)).getProperties();
      return { name: h.name, size: props.contentLength ?? 0 };
    } catch (err) {
      throw storageError('stat', this.target(h), err);
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      let info: FileInfo | undefined;
      try {
        info = { name: 'config', size: (await this.stat({ type: 'config', name: '' })).size };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (info) yield info;
      return;
    }
    const dir = typeDir(type);
    const prefix = this.cfg.prefix === '' ? `${dir}/` : `${this.cfg.prefix}/${dir}/`;
    try {
      for await (const page of (await this.container()).listBlobsFlat({ prefix }).byPage({ maxPageSize: LIST_PAGE })) {
        for (const item of page.segment.blobItems) {
          const name = path.posix.basename(item.name);
          if (isStorageName(name)) yield { name, size: item.properties.contentLength ?? 0 };
        }
      }
    } catch (err) {
      throw storageError('list', `${prefix} in container ${this.cfg.container}`, err);
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      await (await this.blob(h)).deleteIfExists({ deleteSnapshots: 'include' });
    } catch (err) {
      throw storageError('remove', this.target(h), err);
    }
  }

  /** The SDK's HTTP agent is shared and keeps no per-backend state that needs closing; idle sockets do not hold the process open. */
  async close(): Promise<void> {}
}

function emptyView(into: Uint8Array | undefined): Buffer {
  return into ? Buffer.from(into.buffer, into.byteOffset, 0) : Buffer.alloc(0);
}

/** Copies a response body into `buf` from `progress.filled` on, counting as it goes: a body that breaks off throws, and the count says where to resume. */
async function fill(buf: Buffer, progress: { filled: number }, body: NodeJS.ReadableStream | undefined): Promise<void> {
  if (!body) return;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (progress.filled + chunk.length > buf.length) throw new Error(`the service sent more than the ${buf.length} bytes asked for`);
    chunk.copy(buf, progress.filled);
    progress.filled += chunk.length;
  }
}

/** The answer to If-None-Match: * on an existing blob (409 BlobAlreadyExists for a put, 412 ConditionNotMet for a commit). */
function isConflict(err: unknown): boolean {
  const { status, code } = describeFailure(err);
  if (code === 'BlobAlreadyExists' || code === 'ConditionNotMet') return true;
  return (code === undefined || code === `${status}`) && (status === 409 || status === 412);
}

function is404(err: unknown): boolean {
  return isHttp(err, 404);
}

function isHttp(err: unknown, ...statuses: number[]): boolean {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && statuses.includes(status);
}
