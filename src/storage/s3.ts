/**
 * A repository in an S3-compatible bucket (AWS, Ceph RGW, MinIO …), in restic's layout: the same
 * relative paths as every provider (`layout.ts`) under the location's prefix, so `restic -r s3:…`
 * opens what Coffer writes. Buckets have no directories, so `create()` only makes the bucket.
 *
 * Never replacing a stored file: every save first asks for the object (HEAD) and then sends
 * `If-None-Match: *`, which makes the server itself refuse an existing key on a single PUT (AWS,
 * and Ceph since long before Pacific). On completing a multipart upload AWS honours the header too,
 * but Ceph Pacific (16.2) ignores it there, so on such servers a concurrent writer of the same key
 * in the moment between our HEAD and our completion would be replaced. Names are content hashes,
 * so such a writer stores the same bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  AlreadyExistsError,
  type Backend,
  type BackendCapabilities,
  type FileInfo,
  type FileType,
  type Handle,
  ShortReadError,
  StorageError,
  describeHandle,
} from './backend.js';
import { handlePath, isStorageName, typeDir } from './layout.js';
import type { BackendOptions } from './options.js';
import { isMissingKey, s3Error, sdkFailure } from './s3-errors.js';
import { MultipartUploadFailed, uploadFileMultipart } from './s3-multipart.js';
import { type Backoff, BackoffRetryStrategy, BodyReadInterrupted, DEFAULT_BACKOFF, retryBodyRead } from './s3-retry.js';
import { type S3Settings, s3Settings } from './s3-settings.js';

const MiB = 1024 * 1024;

/**
 * Files up to this size go up in one PUT from memory; larger ones (full 16 MiB packs) as multipart
 * uploads of this part size. Measured on Ceph RGW with 5 uploads of 16.3 MiB at once: single PUT,
 * 5 MiB and 8 MiB parts all ran at 60–90 MB/s, so the part size is chosen for memory (one part
 * buffer per upload instead of the whole pack), and kept above S3's 5 MiB minimum part.
 */
export const PART_SIZE = 8 * MiB;

export interface S3Tuning {
  readonly backoff?: Backoff;
  /** Idle time after which a connection counts as dead and the request is retried. */
  readonly socketTimeoutMs?: number;
  /** Keys per ListObjectsV2 page (servers cap it at 1000); tests page with small values. */
  readonly listPageSize?: number;
}

export class S3Backend implements Backend {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly listPageSize: number | undefined;
  /** Cleared when the server answers 501 to `If-None-Match` (some S3 clones do). */
  private conditionalWrites = true;

  constructor(
    private readonly settings: S3Settings,
    tuning: S3Tuning = {},
  ) {
    this.location = settings.where.display;
    this.bucket = settings.where.bucket;
    this.prefix = settings.where.prefix;
    this.maxAttempts = settings.maxAttempts;
    this.backoff = tuning.backoff ?? DEFAULT_BACKOFF;
    this.listPageSize = tuning.listPageSize;
    const agent = { keepAlive: true, maxSockets: Math.max(50, settings.connections * 2) };
    this.client = new S3Client({
      endpoint: settings.where.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      ...(settings.checksumsWhenRequired ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
      maxAttempts: settings.maxAttempts,
      retryStrategy: new BackoffRetryStrategy(settings.maxAttempts, this.backoff),
      requestHandler: { connectionTimeout: 10_000, socketTimeout: tuning.socketTimeoutMs ?? 60_000, httpAgent: agent, httpsAgent: agent },
    });
  }

  capabilities(): BackendCapabilities {
    return { connections: this.settings.connections, remote: true };
  }

  private key(h: Handle): string {
    const rel = handlePath(h);
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  async create(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      const f = sdkFailure(err);
      if (f.status !== 404) throw s3Error(err, 'create', this.bucket, undefined);
    }
    const aws = !this.settings.checksumsWhenRequired;
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // Outside us-east-1 AWS wants the region named; other servers reject names they do not know.
          ...(aws && this.settings.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: this.settings.region as never } } : {}),
        }),
      );
    } catch (err) {
      if (sdkFailure(err).name !== 'BucketAlreadyOwnedByYou') throw s3Error(err, 'create bucket', this.bucket, undefined);
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const key = this.key(h);
    await this.refuseExisting(h, key);
    await this.putBuffer(h, key, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    const key = this.key(h);
    const size = (await fs.stat(file)).size;
    await this.refuseExisting(h, key);
    if (size <= PART_SIZE) {
      await this.putBuffer(h, key, await fs.readFile(file));
    } else {
      await this.putMultipart(h, key, file, size);
    }
    await fs.rm(file, { force: true });
  }

  private async refuseExisting(h: Handle, key: string): Promise<void> {
    if (await this.exists(key)) throw new AlreadyExistsError(`${describeHandle(h)} already exists at ${this.bucket}/${key}`);
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isMissingKey(sdkFailure(err))) return false;
      throw s3Error(err, 'stat', this.bucket, key);
    }
  }

  private async etagOf(key: string): Promise<string | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ETag;
    } catch (err) {
      if (isMissingKey(sdkFailure(err))) return undefined;
      throw s3Error(err, 'stat', this.bucket, key);
    }
  }

  private async putBuffer(h: Handle, key: string, body: Buffer): Promise<void> {
    const md5 = createHash('md5').update(body).digest();
    const send = (conditional: boolean) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          // The server checks the bytes it received against this: nothing corrupted in transit is stored.
          ContentMD5: md5.toString('base64'),
          ...(conditional ? { IfNoneMatch: '*' } : {}),
        }),
      );
    try {
      await send(this.conditionalWrites);
    } catch (err) {
      const f = sdkFailure(err);
      if (f.status === 501 && this.conditionalWrites) {
        this.conditionalWrites = false;
        return this.putBuffer(h, key, body);
      }
      if (f.status === 412) {
        // A retry after an attempt whose answer was lost finds our own object: that is success.
        if (f.attempts > 1 && (await this.etagOf(key)) === `"${md5.toString('hex')}"`) return;
        throw new AlreadyExistsError(`${describeHandle(h)} already exists at ${this.bucket}/${key}`, { cause: err });
      }
      throw s3Error(err, 'save', this.bucket, key);
    }
  }

  private async putMultipart(h: Handle, key: string, file: string, size: number): Promise<void> {
    try {
      await uploadFileMultipart({ client: this.client, bucket: this.bucket, key, ifNoneMatch: this.conditionalWrites }, file, size, PART_SIZE);
    } catch (err) {
      if (!(err instanceof MultipartUploadFailed)) throw s3Error(err, 'save', this.bucket, key);
      const f = sdkFailure(err.cause);
      if (err.stage === 'complete') {
        // Completion answers lost and retried come back as NoSuchUpload or 412: look at what is stored.
        if (f.attempts > 1 && (await this.etagOf(key)) === err.expectedETag) return;
        if (f.status === 412) throw new AlreadyExistsError(`${describeHandle(h)} already exists at ${this.bucket}/${key}`, { cause: err.cause });
        if (f.status === 501 && this.conditionalWrites) {
          this.conditionalWrites = false;
          return this.putMultipart(h, key, file, size);
        }
      }
      throw s3Error(err.cause, 'save (multipart)', this.bucket, key);
    }
  }

  async load(h: Handle, offset = 0, length?: number, into?: Uint8Array): Promise<Buffer> {
    const key = this.key(h);
    if (length !== undefined && into && into.length < length) throw new RangeError(`buffer of ${into.length} bytes cannot hold ${length}`);
    if (length === 0) {
      const size = (await this.stat(h)).size;
      if (offset > size) throw new ShortReadError(`${describeHandle(h)}: wanted 0 bytes at ${offset}, but it has ${size}`);
      return Buffer.alloc(0);
    }
    const range = length !== undefined ? `bytes=${offset}-${offset + length - 1}` : offset > 0 ? `bytes=${offset}-` : undefined;
    return retryBodyRead(() => this.getOnce(h, key, range, offset, length, into), this.maxAttempts, this.backoff);
  }

  private async getOnce(h: Handle, key: string, range: string | undefined, offset: number, length: number | undefined, into: Uint8Array | undefined): Promise<Buffer> {
    let body: AsyncIterable<Uint8Array>;
    let expected: number;
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }));
      if (range && !r.ContentRange) throw new StorageError(`s3 load ${this.bucket}/${key}: the server ignored the byte range ${range}`);
      expected = length ?? r.ContentLength ?? 0;
      body = r.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      // 416: the range starts at or after the end of the object. "The rest" from there is nothing,
      // as on a local disk; a given length cannot be had.
      if (sdkFailure(err).status === 416 && length === undefined) return Buffer.alloc(0);
      if (sdkFailure(err).status === 416) throw new ShortReadError(`${describeHandle(h)}: wanted ${length ?? 'the rest'} bytes at ${offset}, the file is shorter`, { cause: err });
      throw s3Error(err, 'load', this.bucket, key);
    }
    if (into && into.length < expected) throw new RangeError(`buffer of ${into.length} bytes cannot hold ${expected}`);
    const out = into ? Buffer.from(into.buffer, into.byteOffset, expected) : Buffer.allocUnsafe(expected);
    let got = 0;
    try {
      for await (const chunk of body) {
        if (got + chunk.length > expected) throw new StorageError(`s3 load ${this.bucket}/${key}: the server sent more than the ${expected} bytes asked for`);
        out.set(chunk, got);
        got += chunk.length;
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new BodyReadInterrupted(err);
    }
    if (got < expected) throw new ShortReadError(`${describeHandle(h)}: wanted ${expected} bytes at ${offset}, got ${got}`);
    return out;
  }

  async stat(h: Handle): Promise<FileInfo> {
    const key = this.key(h);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { name: h.name, size: r.ContentLength ?? 0 };
    } catch (err) {
      throw s3Error(err, 'stat', this.bucket, key);
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      const key = this.key({ type, name: '' });
      try {
        const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        yield { name: 'config', size: r.ContentLength ?? 0 };
      } catch (err) {
        if (!isMissingKey(sdkFailure(err))) throw s3Error(err, 'list', this.bucket, key);
      }
      return;
    }
    const dir = `${this.prefix ? `${this.prefix}/` : ''}${typeDir(type)}/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dir, ...(this.listPageSize ? { MaxKeys: this.listPageSize } : {}), ...(token ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw s3Error(err, 'list', this.bucket, dir);
      }
      for (const obj of page.Contents ?? []) {
        const name = obj.Key?.slice(obj.Key.lastIndexOf('/') + 1) ?? '';
        if (isStorageName(name)) yield { name, size: obj.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(h: Handle): Promise<void> {
    const key = this.key(h);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (!isMissingKey(sdkFailure(err))) throw s3Error(err, 'remove', this.bucket, key);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
