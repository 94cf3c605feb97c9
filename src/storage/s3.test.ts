/**
 * The S3 backend: location parsing and settings (no server), then the conformance suite and the
 * S3 specifics against a real Ceph RADOS Gateway, directly and through a proxy that injects
 * server errors, throttling and dropped connections.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { type FlakyProxy, startFlakyProxy } from '../../test/support/flaky-proxy.js';
import { type S3Server, startCephS3 } from '../../test/support/services.js';
import { Repository, TEST_KDF, backup, check, restore, withLock } from '../repo/index.js';
import { AlreadyExistsError, NotFoundError, ShortReadError, StorageError } from './backend.js';
import { backendSuite } from './backend.suite.js';
import { openBackend } from './registry.js';
import { LazyBackend } from './lazy.js';
import { PART_SIZE, S3Backend, type S3Tuning } from './s3.js';
import { parseS3Location } from './s3-location.js';
import { backoffDelay } from './s3-retry.js';
import { s3Settings } from './s3-settings.js';

describe('S3 locations, as restic spells them', () => {
  it('reads endpoint, bucket and prefix from URL and bare forms', () => {
    expect(parseS3Location('http://127.0.0.1:9000/bucket/some/prefix')).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      host: '127.0.0.1:9000',
      bucket: 'bucket',
      prefix: 'some/prefix',
      display: 's3:http://127.0.0.1:9000/bucket/some/prefix',
    });
    expect(parseS3Location('https://minio.example/bucket')).toMatchObject({ endpoint: 'https://minio.example', bucket: 'bucket', prefix: '' });
    expect(parseS3Location('s3.amazonaws.com/bucket/prefix')).toMatchObject({ endpoint: 'https://s3.amazonaws.com', bucket: 'bucket', prefix: 'prefix', display: 's3:s3.amazonaws.com/bucket/prefix' });
    expect(parseS3Location('host:8443/b')).toMatchObject({ endpoint: 'https://host:8443', bucket: 'b', prefix: '' });
    // `s3://host/…` arrives here as `//host/…` and means the same as `s3:host/…`.
    expect(parseS3Location('//host/bucket/p')).toMatchObject({ endpoint: 'https://host', bucket: 'bucket', prefix: 'p' });
  });

  it('cleans the prefix like restic (path.Clean) and refuses to leave the bucket', () => {
    expect(parseS3Location('http://h/b/a//b/./c/').prefix).toBe('a/b/c');
    expect(parseS3Location('h/b/').prefix).toBe('');
    expect(() => parseS3Location('h/b/../x')).toThrow(/leaves the bucket/);
  });

  it('names what is missing', () => {
    for (const bad of ['http://host', 'http://host/', 'host', 'host/', '']) expect(() => parseS3Location(bad)).toThrow(/bucket name not found|no host/);
  });

  it('never shows a user:password given in the URL', () => {
    const loc = parseS3Location('http://key:secret@127.0.0.1:9000/bucket/p');
    expect(loc.display).toBe('s3:http://127.0.0.1:9000/bucket/p');
    expect(loc.endpoint).not.toContain('secret');
  });
});

describe('S3 settings from options and the environment', () => {
  const env = { AWS_ACCESS_KEY_ID: 'env-id', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_DEFAULT_REGION: 'eu-west-3' };

  it('takes credentials and region from options first, then restic’s variables', () => {
    expect(s3Settings('h/b', {}, env)).toMatchObject({ credentials: { accessKeyId: 'env-id', secretAccessKey: 'env-secret' }, region: 'eu-west-3' });
    const s = s3Settings('h/b', { 's3.access-key-id': 'opt-id', 's3.secret-access-key': 'opt-secret', 's3.session-token': 'tok', 's3.region': 'ap-south-1' }, env);
    expect(s).toMatchObject({ credentials: { accessKeyId: 'opt-id', secretAccessKey: 'opt-secret', sessionToken: 'tok' }, region: 'ap-south-1' });
    expect(s3Settings('h/b', {}, { AWS_REGION: 'us-west-2' }).region).toBe('us-west-2');
    expect(s3Settings('h/b', {}, {})).toMatchObject({ region: 'us-east-1', connections: 5 });
    expect(s3Settings('h/b', {}, {}).credentials).toBeUndefined();
    expect(() => s3Settings('h/b', { 's3.access-key-id': 'only-id' }, {})).toThrow(/without its secret/);
  });

  it('picks path style for other servers and DNS style for AWS under bucket-lookup=auto', () => {
    expect(s3Settings('http://127.0.0.1:7480/b', {}, {})).toMatchObject({ forcePathStyle: true, checksumsWhenRequired: true });
    expect(s3Settings('s3.amazonaws.com/b', {}, {})).toMatchObject({ forcePathStyle: false, checksumsWhenRequired: false });
    expect(s3Settings('s3.amazonaws.com/b', { 's3.bucket-lookup': 'path' }, {}).forcePathStyle).toBe(true);
    expect(s3Settings('minio.local/b', { 's3.bucket-lookup': 'dns' }, {}).forcePathStyle).toBe(false);
    expect(() => s3Settings('h/b', { 's3.bucket-lookup': 'virtual' }, {})).toThrow(/auto, dns or path/);
  });

  it('reads s3.connections and rejects nonsense', () => {
    expect(s3Settings('h/b', { 's3.connections': '12' }, {}).connections).toBe(12);
    expect(() => s3Settings('h/b', { 's3.connections': '0' }, {})).toThrow(/s3.connections/);
    expect(() => s3Settings('h/b', { 's3.connections': 'many' }, {})).toThrow(/s3.connections/);
  });

  it('is reachable through the registry (the SDK loaded on first use) with a location free of secrets', async () => {
    const b = openBackend('s3:http://127.0.0.1:1/bucket/prefix', { 's3.secret-access-key': 'top-secret', 's3.access-key-id': 'id', 's3.connections': '7' }, {});
    expect(b).toBeInstanceOf(LazyBackend);
    // Bad settings still fail when the backend is opened, not at its first request.
    expect(() => openBackend('s3:http://127.0.0.1:1/bucket', { 's3.access-key-id': 'id' }, {})).toThrow();
    expect(b.location).toBe('s3:http://127.0.0.1:1/bucket/prefix');
    expect(b.capabilities().connections).toBe(7);
    await b.close();
  });

  it('backs off exponentially with full jitter, capped', () => {
    const backoff = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(1, backoff, () => 0.999)).toBe(99);
    expect(backoffDelay(3, backoff, () => 0.999)).toBe(399);
    expect(backoffDelay(10, backoff, () => 0.999)).toBe(999);
    expect(backoffDelay(3, backoff, () => 0)).toBe(0);
  });
});

// One Ceph for the whole file (about 20 s to start); null means "skip" (outside CI only).
const ceph: S3Server | null = await startCephS3();
afterAll(async () => {
  await ceph?.stop();
});

const FAST_RETRIES: S3Tuning = { backoff: { baseMs: 5, capMs: 100 } };
let runs = 0;

function backendAt(server: S3Server, endpoint: string, bucket: string, prefix: string, tuning: S3Tuning = FAST_RETRIES, secret = server.secretAccessKey): S3Backend {
  const settings = s3Settings(`${endpoint}/${bucket}/${prefix}`, { 's3.access-key-id': server.accessKeyId, 's3.secret-access-key': secret }, {});
  return new S3Backend(settings, tuning);
}

function rawClient(server: S3Server): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function named(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function tempFile(data: Buffer): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-s3-')), 'upload.tmp');
  fs.writeFileSync(file, data);
  return file;
}

describe.skipIf(!ceph)('S3 backend on Ceph RGW', () => {
  const server = ceph!;

  backendSuite('s3 (Ceph RGW)', async () => {
    const b = backendAt(server, server.endpoint, 'coffer-suite', `run-${++runs}-${randomBytes(4).toString('hex')}`);
    await b.create();
    return b;
  });

  it("stores restic's layout under the prefix, with no directory objects", async () => {
    const b = backendAt(server, server.endpoint, 'coffer-layout', 'deep/prefix');
    await b.create();
    const id = 'ab' + '0'.repeat(62);
    await b.save({ type: 'pack', name: id }, Buffer.from('x'));
    await b.save({ type: 'key', name: id }, Buffer.from('k'));
    await b.save({ type: 'config', name: '' }, Buffer.from('c'));
    const listed = await rawClient(server).send(new ListObjectsV2Command({ Bucket: 'coffer-layout' }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual(['deep/prefix/config', `deep/prefix/data/ab/${id}`, `deep/prefix/keys/${id}`]);
    expect(b.location).toBe(`s3:${server.endpoint}/coffer-layout/deep/prefix`);
    await b.close();
  });

  it('creates a missing bucket, idempotently', async () => {
    const b = backendAt(server, server.endpoint, 'coffer-created', 'p');
    await b.create();
    await b.create();
    await b.save({ type: 'config', name: '' }, Buffer.from('c'));
    expect((await b.stat({ type: 'config', name: '' })).size).toBe(1);
  });

  it('uploads large files in parts from disk, and refuses to replace them', async () => {
    const prefix = `multipart-${randomBytes(4).toString('hex')}`;
    const b = backendAt(server, server.endpoint, 'coffer-suite', prefix);
    await b.create();
    const data = randomBytes(2 * PART_SIZE + 12345);
    const id = named(data);
    const file = tempFile(data);
    await b.saveFile({ type: 'pack', name: id }, file);
    expect(fs.existsSync(file)).toBe(false);
    expect((await b.load({ type: 'pack', name: id })).equals(data)).toBe(true);
    expect((await b.load({ type: 'pack', name: id }, PART_SIZE - 10, 20)).equals(data.subarray(PART_SIZE - 10, PART_SIZE + 10))).toBe(true);
    const head = await rawClient(server).send(new HeadObjectCommand({ Bucket: 'coffer-suite', Key: `${prefix}/data/${id.slice(0, 2)}/${id}` }));
    expect(head.ETag).toMatch(/-3"$/); // three parts: 8 + 8 MiB + the rest
    fs.writeFileSync(file, data);
    await expect(b.saveFile({ type: 'pack', name: id }, file)).rejects.toBeInstanceOf(AlreadyExistsError);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('lists across pages and skips foreign names', async () => {
    const prefix = `paging-${randomBytes(4).toString('hex')}`;
    const b = backendAt(server, server.endpoint, 'coffer-suite', prefix, { ...FAST_RETRIES, listPageSize: 2 });
    const blobs = [1, 2, 3, 4, 5].map((i) => Buffer.from(`snapshot ${i}`));
    for (const s of blobs) await b.save({ type: 'snapshot', name: named(s) }, s);
    await rawClient(server).send(new PutObjectCommand({ Bucket: 'coffer-suite', Key: `${prefix}/snapshots/not-an-id`, Body: 'junk' }));
    const names: string[] = [];
    for await (const f of b.list('snapshot')) names.push(f.name);
    expect(names.sort()).toEqual(blobs.map(named).sort());
  });

  it('reads into a caller buffer and reports reads past the end as short', async () => {
    const b = backendAt(server, server.endpoint, 'coffer-suite', `ranges-${randomBytes(4).toString('hex')}`);
    const data = Buffer.from('0123456789');
    const id = named(data);
    await b.save({ type: 'index', name: id }, data);
    const into = new Uint8Array(100);
    const view = await b.load({ type: 'index', name: id }, 4, undefined, into);
    expect(view.toString()).toBe('456789');
    expect(view.buffer).toBe(into.buffer);
    await expect(b.load({ type: 'index', name: id }, 10, 1)).rejects.toBeInstanceOf(ShortReadError);
    // The rest of the file from past its end is nothing, as on a local disk.
    expect((await b.load({ type: 'index', name: id }, 50)).length).toBe(0);
    expect((await b.load({ type: 'index', name: id }, 3, 0)).length).toBe(0);
  });

  it('says clearly when the bucket does not exist', async () => {
    const b = backendAt(server, server.endpoint, 'coffer-no-such-bucket', 'p');
    const err = await b.load({ type: 'config', name: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(String(err)).toMatch(/coffer-no-such-bucket does not exist \(NoSuchBucket\)/);
  });

  it('fails at once, naming the cause, with a wrong secret', async () => {
    await backendAt(server, server.endpoint, 'coffer-suite', 'p').create();
    const b = backendAt(server, server.endpoint, 'coffer-suite', 'p', { backoff: { baseMs: 60_000, capMs: 60_000 } }, 'wrong-secret');
    // A retry would wait a minute: the test's time limit proves there is none.
    const err = (await b.load({ type: 'config', name: '' }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.message).toMatch(/coffer-suite\/p\/config/);
    expect(err.message).toMatch(/HTTP 403 SignatureDoesNotMatch/);
    expect(err.message).not.toContain(server.secretAccessKey);
    const statErr = (await b.stat({ type: 'config', name: '' }).catch((e: unknown) => e)) as Error;
    expect(statErr.message).toMatch(/HTTP 403/);
    await b.close();
  });
});

describe.skipIf(!ceph)('S3 backend through a proxy that injects faults', () => {
  const server = ceph!;
  let proxy: FlakyProxy;
  const proxied = async (prefix: string): Promise<S3Backend> => {
    proxy ??= await startFlakyProxy(server.endpoint, { failureRate: 0.25, seed: 42 });
    return backendAt(server, proxy.endpoint, 'coffer-flaky', prefix);
  };
  afterAll(async () => {
    if (proxy) {
      console.log('flaky proxy:', JSON.stringify(proxy.counts));
      await proxy.close();
    }
  });

  backendSuite('s3 through a flaky proxy', async () => {
    const b = await proxied(`run-${++runs}-${randomBytes(4).toString('hex')}`);
    await b.create();
    return b;
  });

  /** Runs `fn` with only the faults it plans itself. */
  async function alone(fn: () => Promise<void>): Promise<void> {
    const rate = proxy.failureRate;
    proxy.failureRate = 0;
    try {
      await fn();
    } finally {
      proxy.failureRate = rate;
    }
  }

  it('takes a retried save whose first answer was lost for done, not for an existing file', async () => {
    const b = await proxied(`lost-put-${randomBytes(4).toString('hex')}`);
    await b.create();
    await alone(async () => {
      const data = randomBytes(1000);
      const id = named(data);
      proxy.injectOnce((method, url) => method === 'PUT' && url.includes(id), 'drop-response');
      const before = proxy.counts['drop-response'];
      await b.save({ type: 'snapshot', name: id }, data);
      expect(proxy.counts['drop-response']).toBe(before + 1);
      expect((await b.load({ type: 'snapshot', name: id })).equals(data)).toBe(true);
      await expect(b.save({ type: 'snapshot', name: id }, data)).rejects.toBeInstanceOf(AlreadyExistsError);
    });
  });

  it('finishes a multipart upload whose completion answer was lost', async () => {
    const b = await proxied(`lost-complete-${randomBytes(4).toString('hex')}`);
    await b.create();
    await alone(async () => {
      const data = randomBytes(PART_SIZE + 4321);
      const id = named(data);
      proxy.injectOnce((method, url) => method === 'POST' && url.includes(id) && url.includes('uploadId='), 'drop-response');
      const before = proxy.counts['drop-response'];
      await b.saveFile({ type: 'pack', name: id }, tempFile(data));
      expect(proxy.counts['drop-response']).toBe(before + 1);
      expect((await b.load({ type: 'pack', name: id })).equals(data)).toBe(true);
    });
  });

  it('reads a body again after the connection broke half-way through it', async () => {
    const b = await proxied(`cut-body-${randomBytes(4).toString('hex')}`);
    await b.create();
    await alone(async () => {
      const data = randomBytes(3 * 1024 * 1024);
      const id = named(data);
      await b.save({ type: 'pack', name: id }, data);
      proxy.injectOnce((method, url) => method === 'GET' && url.includes(id), 'drop-response');
      const before = proxy.counts['drop-response'];
      expect((await b.load({ type: 'pack', name: id }, 1000, 2 * 1024 * 1024)).equals(data.subarray(1000, 1000 + 2 * 1024 * 1024))).toBe(true);
      expect(proxy.counts['drop-response']).toBe(before + 1);
    });
  });

  it('round-trips a multi-pack backup with every byte intact', async () => {
    const b = await proxied(`engine-${randomBytes(4).toString('hex')}`);
    await rawClient(server).send(new CreateBucketCommand({ Bucket: 'coffer-flaky' })).catch(() => undefined);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-s3-engine-'));
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const files: Record<string, Buffer> = { 'big.bin': randomBytes(40 * 1024 * 1024), 'sub/medium.bin': randomBytes(3 * 1024 * 1024), 'sub/small.txt': Buffer.from('small') };
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(src, name), data);
    const password = 'flaky-proxy-password';
    const repo = await Repository.init(b, password, { kdf: TEST_KDF });
    const result = await withLock(repo, false, () => backup(repo, { paths: [src] }));
    const reopened = await Repository.open(b, password);
    const checked = await withLock(reopened, false, () => check(reopened, { readData: true }));
    expect(checked.errors).toEqual([]);
    expect(checked.packs).toBeGreaterThanOrEqual(3);
    const target = path.join(work, 'restore');
    const snap = await reopened.loadSnapshot(result.snapshotId);
    await reopened.loadIndex();
    await withLock(reopened, false, () => restore(reopened, snap, { target }));
    for (const [name, data] of Object.entries(files)) expect(fs.readFileSync(path.join(target, src, name)).equals(data)).toBe(true);
    expect(proxy.counts['drop-response'] + proxy.counts['drop-request'] + proxy.counts.slowdown + proxy.counts.internal).toBeGreaterThan(20);
    fs.rmSync(work, { recursive: true, force: true });
    await b.close();
  });
});
