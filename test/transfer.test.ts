/**
 * src/transfer against real servers: Ceph's RADOS Gateway (S3), Azurite (Azure Blob), a local HTTPS
 * receiver; and extractKantoZip against ZIPs from Coffer's writer, Info-ZIP and hand-made attacks.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kantoZipOptions, planSnapshotZip, writeSnapshotZip } from '../src/repo/index.js';
import { buildZip, describeTree, listAll, snapshotOf, zeros } from '../src/repo/archive/testing.js';
import {
  type TransferOptions, TransferCancelledError, TransferError, TransferOptionsError, downloadFile, downloadSource,
  extractKantoZip, uploadFile, uploadProvider,
} from '../src/transfer/index.js';
import { type AzureServer, type S3Server, type TestCertificate, freePort, selfSignedCertificate, startAzurite, startCephS3 } from './support/services.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-transfer-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let counter = 0;
/** The S3 and Azure servers under test listen on loopback: their transfers allow private addresses. */
const serverOnLoopback = { allowPrivateAddresses: true };

/** A fresh path below the test's work directory. */
function fresh(name: string): string {
  return path.join(work, `${++counter}-${name}`);
}

function randomFile(size: number): string {
  const file = fresh('data.bin');
  fs.writeFileSync(file, randomBytes(size));
  return file;
}

function sha(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

// --- options --------------------------------------------------------------------------------

describe('transfer options', () => {
  const aws: TransferOptions = {
    'storage.provider': 'aws', 'aws.region': 'eu-central-1', 'aws.access.key.id': 'AKID', 'aws.secret.access.key': 'SECRET', 'aws.s3.bucket': 'b',
  };

  it('selects the provider: storage.provider case-insensitively, generic when only https.url is given, null when none', () => {
    expect(uploadProvider(aws)).toBe('aws');
    expect(uploadProvider({ ...aws, 'storage.provider': 'AWS' })).toBe('aws');
    expect(uploadProvider({ 'https.url': 'https://example.invalid/x' })).toBe('generic');
    expect(uploadProvider({ 'storage.provider': 'Generic', 'https.url': 'https://example.invalid/x' })).toBe('generic');
    expect(uploadProvider({})).toBeNull();
    expect(uploadProvider({ 'backup.dir': '/x' })).toBeNull();
    expect(uploadProvider({
      'storage.provider': 'azure', 'azure.storage.endpoint': 'https://a.blob.core.windows.net', 'azure.shared.access.signature': 'sv=1', 'azure.blob.container': 'c',
    })).toBe('azure');
  });

  it('refuses incomplete or invalid options with Kanto\'s messages', () => {
    for (const key of ['aws.region', 'aws.access.key.id', 'aws.secret.access.key', 'aws.s3.bucket']) {
      const o = { ...aws, [key]: '' };
      expect(() => uploadProvider(o), key).toThrow(new TransferOptionsError(`required parameter '${key}' missing or empty`));
      const { [key]: _, ...without } = aws;
      expect(() => uploadProvider(without), key).toThrow(`required parameter '${key}' missing or empty`);
      expect(() => downloadSource(without), key).toThrow(TransferOptionsError);
    }
    for (const key of ['azure.storage.endpoint', 'azure.shared.access.signature', 'azure.blob.container']) {
      const o: Record<string, string> = { 'storage.provider': 'azure', 'azure.storage.endpoint': 'http://h/acct', 'azure.shared.access.signature': 's', 'azure.blob.container': 'c' };
      delete o[key];
      expect(() => uploadProvider(o), key).toThrow(`required parameter '${key}' missing or empty`);
    }
    expect(() => uploadProvider({ 'storage.provider': 'dropbox' })).toThrow(new TransferOptionsError(`unknown storage provider 'dropbox'`));
    expect(() => uploadProvider({ 'storage.provider': 'generic' })).toThrow(new TransferOptionsError('upload URL not specified'));
    expect(() => uploadProvider({ 'https.url': 'https://h/x', 'https.method': 'patch' })).toThrow(new TransferOptionsError('unsupported HTTP method: patch'));
    expect(uploadProvider({ 'https.url': 'https://h/x', 'https.method': 'post' })).toBe('generic');
    expect(() => uploadProvider({ 'https.url': 'ftp://h/x' })).toThrow(TransferOptionsError);
    expect(() => uploadProvider({ 'https.url': 'not a url' })).toThrow(TransferOptionsError);
    expect(() => uploadProvider({ 'https.url': 'https://h/x', 'https.header.Bad Name': 'v' })).toThrow(TransferOptionsError);
    expect(() => uploadProvider({ 'https.url': 'https://h/x', 'https.header.X': 'a\r\nInjected: 1' })).toThrow(TransferOptionsError);
    expect(() => downloadSource({ 'storage.provider': 'generic' })).toThrow(new TransferOptionsError('Download URL not specified!'));
  });

  it('download sources: https.url wins (Kanto restores from it alone), else aws or azure; null when none', () => {
    expect(downloadSource({ 'https.url': 'https://h/x' })).toBe('https');
    expect(downloadSource({ ...aws, 'https.url': 'https://h/x' })).toBe('https');
    // The product's documentation's restore example, verbatim: aws keys and no object key (the caller names the object).
    expect(downloadSource(aws)).toBe('aws');
    expect(downloadSource({})).toBeNull();
  });

  it('a download from aws with no object key anywhere is refused before a file is created', async () => {
    const to = fresh('never');
    await expect(downloadFile(aws, to)).rejects.toThrow(new TransferOptionsError(`required parameter 'aws.object.key' missing or empty`));
    expect(fs.existsSync(to)).toBe(false);
  });
});

// --- generic HTTPS ----------------------------------------------------------------------------

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe('generic HTTPS provider', () => {
  let cert: TestCertificate;
  let server: https.Server;
  let base: string;
  const requests: Recorded[] = [];
  const served = randomBytes(3 * 1024 * 1024 + 17);

  beforeAll(async () => {
    cert = await selfSignedCertificate();
    server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
        const url = req.url!;
        if (url.startsWith('/fail')) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('disk quota exceeded on receiver');
        } else if (url.startsWith('/missing')) {
          res.writeHead(404).end('no such backup');
        } else if (url.startsWith('/redirect')) {
          res.writeHead(302, { location: '/file?from=redirect' }).end();
        } else if (url.startsWith('/chunked')) {
          res.writeHead(200);
          res.end(served);
        } else if (url.startsWith('/file')) {
          res.writeHead(200, { 'content-length': String(served.length) }).end(served);
        } else if (url.startsWith('/short')) {
          // Announces more than it sends, then drops the connection.
          res.writeHead(200, { 'content-length': String(served.length) });
          res.write(served.subarray(0, 1000), () => res.destroy());
        } else if (url.startsWith('/stall')) {
          res.writeHead(200, { 'content-length': String(served.length) });
          res.write(served.subarray(0, 64 * 1024));
        } else {
          res.writeHead(req.method === 'POST' ? 201 : 204).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const opts = (extra: Record<string, string>): TransferOptions => ({ 'https.ca': cert.cert, ...extra });
  /** The test server listens on loopback, which transfers refuse unless allowed. */
  const local = { allowPrivateAddresses: true };

  it('PUT by default: exact Content-Length, application/x-binary, custom headers, the whole body', async () => {
    const file = randomFile(2 * 1024 * 1024 + 5);
    const progress: number[] = [];
    const r = await uploadFile(file, opts({ 'https.url': `${base}/put/backup.zip?sig=secret`, 'https.header.Authorization': 'Bearer t0k', 'https.header.X-Device': 'edge-1' }), {
      ...local,
      onProgress: (done, total) => {
        expect(total).toBe(fs.statSync(file).size);
        progress.push(done);
      },
    });
    expect(r.location).toBe(`${base}/put/backup.zip`);
    const got = requests.at(-1)!;
    expect(got.method).toBe('PUT');
    expect(got.url).toBe('/put/backup.zip?sig=secret');
    expect(got.headers['content-type']).toBe('application/x-binary');
    expect(got.headers['content-length']).toBe(String(fs.statSync(file).size));
    expect(got.headers['transfer-encoding']).toBeUndefined();
    expect(got.headers['authorization']).toBe('Bearer t0k');
    expect(got.headers['x-device']).toBe('edge-1');
    expect(got.body.equals(fs.readFileSync(file))).toBe(true);
    expect(progress.at(-1)).toBe(fs.statSync(file).size);
  });

  it('POST (any case), Content-Type overridable, a user Content-Length ignored; any 2xx is success', async () => {
    const file = randomFile(1000);
    await uploadFile(file, opts({
      'https.url': `${base}/post`, 'https.method': 'post', 'https.header.content-type': 'application/zip', 'https.header.Content-Length': '5',
    }), local);
    const got = requests.at(-1)!;
    expect(got.method).toBe('POST');
    expect(got.headers['content-type']).toBe('application/zip');
    expect(got.headers['content-length']).toBe('1000');
    expect(got.body.length).toBe(1000);
  });

  it('a 500 from the server is a TransferError with Kanto\'s text and the code; the body only in `detail` (for the local log)', async () => {
    const err = await rejection(uploadFile(randomFile(10), opts({ 'https.url': `${base}/fail` }), local));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toBe('upload failed - code: 500, status: 500 Internal Server Error');
    expect((err as TransferError).detail).toContain('disk quota exceeded on receiver');
  });

  it('without the CA the self-signed server is refused, naming the TLS cause', async () => {
    const err = await rejection(uploadFile(randomFile(10), { 'https.url': `${base}/put/x` }, local));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/self[- ]signed certificate/i);
  });

  it('connection refused on upload and download is a TransferError naming ECONNREFUSED (not swallowed)', async () => {
    const port = await freePort();
    const up = await rejection(uploadFile(randomFile(10), { 'https.url': `https://127.0.0.1:${port}/x` }, local));
    expect(up).toBeInstanceOf(TransferError);
    expect(up.message).toContain('ECONNREFUSED');
    const to = fresh('refused.zip');
    const down = await rejection(downloadFile({ 'https.url': `http://127.0.0.1:${port}/x` }, to, local));
    expect(down).toBeInstanceOf(TransferError);
    expect(down.message).toContain('ECONNREFUSED');
    expect(fs.existsSync(to)).toBe(false);
  });

  it('downloads with GET and the https.header.* headers, following a redirect; progress reaches the total', async () => {
    const to = fresh('down.zip');
    const seen: [number, number][] = [];
    const r = await downloadFile(opts({ 'https.url': `${base}/redirect`, 'https.header.Authorization': 'Bearer d' }), to, { ...local, onProgress: (d, t) => seen.push([d, t]) });
    expect(r.bytes).toBe(served.length);
    expect(fs.readFileSync(to).equals(served)).toBe(true);
    expect(seen.at(-1)).toEqual([served.length, served.length]);
    const [first, second] = requests.slice(-2);
    expect(first!.method).toBe('GET');
    expect(first!.url).toBe('/redirect');
    expect(second!.url).toBe('/file?from=redirect');
    // Same host: the credentials go along, as Go's client (Kanto's) sends them.
    expect(second!.headers['authorization']).toBe('Bearer d');
  });

  it('a non-2xx download fails with Kanto\'s text and leaves no file; an existing file is never clobbered', async () => {
    const to = fresh('missing.zip');
    const err = await rejection(downloadFile(opts({ 'https.url': `${base}/missing` }), to, local));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toBe('download failed - code: 404, status: 404 Not Found');
    expect(fs.existsSync(to)).toBe(false);

    const existing = fresh('existing.zip');
    fs.writeFileSync(existing, 'keep me');
    await expect(downloadFile(opts({ 'https.url': `${base}/file` }), existing, local)).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
  });

  it('a body cut short of its Content-Length is a TransferError and the partial file is removed', async () => {
    const to = fresh('short.zip');
    const err = await rejection(downloadFile(opts({ 'https.url': `${base}/short` }), to, local));
    expect(err).toBeInstanceOf(TransferError);
    expect(fs.existsSync(to)).toBe(false);
  });

  it('cancelling a running download removes the partial file', async () => {
    const to = fresh('cancel.zip');
    const ac = new AbortController();
    const err = await rejection(downloadFile(opts({ 'https.url': `${base}/stall` }), to, {
      ...local,
      signal: ac.signal,
      onProgress: (done) => {
        if (done > 0) ac.abort();
      },
    }));
    expect(err).toBeInstanceOf(TransferCancelledError);
    expect(fs.existsSync(to)).toBe(false);
  });

  it('refuses loopback and private addresses unless allowed: IP literals, names resolving there, before any request', async () => {
    const count = requests.length;
    for (const u of [`${base}/file`, base.replace('127.0.0.1', 'localhost') + '/file', 'https://[::1]:1/x', 'https://[::ffff:127.0.0.1]:1/x', 'http://10.1.2.3:1/x', 'http://169.254.169.254/latest']) {
      const to = fresh('private.zip');
      const err = await rejection(downloadFile(opts({ 'https.url': u }), to));
      expect(err, u).toBeInstanceOf(TransferError);
      expect(err.message, u).toMatch(/loopback, link-local or private address/);
      expect(fs.existsSync(to)).toBe(false);
    }
    const up = await rejection(uploadFile(randomFile(10), opts({ 'https.url': `${base}/put/p` })));
    expect(up.message).toMatch(/loopback, link-local or private address/);
    expect(requests.length).toBe(count);
  });

  it('aws.endpoint and azure.storage.endpoint are held to the same rule: no request reaches a private address unless allowed', async () => {
    const count = requests.length;
    const port = new URL(base).port;
    for (const host of ['127.0.0.1', 'localhost']) {
      const aws = { 'storage.provider': 'aws', 'aws.region': 'us-east-1', 'aws.access.key.id': 'k', 'aws.secret.access.key': 's', 'aws.s3.bucket': 'b', 'aws.object.key': 'o.zip', 'aws.endpoint': `http://${host}:${port}` };
      const azure = { 'storage.provider': 'azure', 'azure.storage.endpoint': `http://${host}:${port}/acct/`, 'azure.shared.access.signature': 'sv=1&sig=x', 'azure.blob.container': 'c', 'azure.blob.name': 'o.zip' };
      for (const o of [aws, azure]) {
        const err = await rejection(downloadFile(o, fresh('private.zip')));
        expect(err, `${o['storage.provider']} ${host}`).toBeInstanceOf(TransferError);
        expect(err.message, `${o['storage.provider']} ${host}`).toMatch(/loopback, link-local or private address/);
        const up = await rejection(uploadFile(randomFile(10), o));
        expect(up.message, `${o['storage.provider']} ${host} upload`).toMatch(/loopback, link-local or private address/);
      }
    }
    expect(requests.length).toBe(count);
  });

  it('a download over the cap is refused from its Content-Length, or stopped when it has none; no file is left', async () => {
    for (const route of ['/file', '/chunked']) {
      const to = fresh('capped.zip');
      const err = await rejection(downloadFile(opts({ 'https.url': `${base}${route}` }), to, { ...local, maxBytes: 100_000 }));
      expect(err, route).toBeInstanceOf(TransferError);
      expect(err.message, route).toMatch(/larger than the download limit \(100000 bytes\)/);
      expect(fs.existsSync(to)).toBe(false);
    }
    const to = fresh('fits.zip');
    expect((await downloadFile(opts({ 'https.url': `${base}/chunked` }), to, { ...local, maxBytes: served.length })).bytes).toBe(served.length);
  });
});

// --- aws: Ceph RGW ----------------------------------------------------------------------------

describe('aws provider against Ceph RGW', () => {
  let s3: S3Server | null = null;
  const bucket = 'kanto-backups';

  beforeAll(async () => {
    s3 = await startCephS3();
    if (!s3) return;
    const admin = new S3Client({
      endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
  }, 300_000);
  afterAll(async () => {
    await s3?.stop();
  }, 60_000);

  const options = (extra: Record<string, string> = {}): TransferOptions => ({
    'storage.provider': 'aws',
    'aws.region': s3!.region,
    'aws.access.key.id': s3!.accessKeyId,
    'aws.secret.access.key': s3!.secretAccessKey,
    'aws.s3.bucket': bucket,
    'aws.endpoint': s3!.endpoint,
    ...extra,
  });

  it('uploads 20 MiB in parts with progress and downloads it back identical', async (ctx) => {
    if (!s3) return ctx.skip();
    const file = randomFile(20 * 1024 * 1024);
    const progress: [number, number][] = [];
    const r = await uploadFile(file, options(), { ...serverOnLoopback, onProgress: (d, t) => progress.push([d, t]) });
    expect(r.location).toBe(`s3://${bucket}/${path.basename(file)}`);
    // Three 8 MiB parts: progress arrives part by part, ending at the total.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toEqual([20 * 1024 * 1024, 20 * 1024 * 1024]);

    const to = fresh('from-s3.bin');
    const seen: number[] = [];
    const d = await downloadFile(options({ 'aws.object.key': path.basename(file) }), to, { ...serverOnLoopback, onProgress: (done) => seen.push(done) });
    expect(d.bytes).toBe(20 * 1024 * 1024);
    expect(sha(to)).toBe(sha(file));
    expect(seen.at(-1)).toBe(20 * 1024 * 1024);
  });

  it('aws.object.key names the object; the caller\'s objectName serves when the options (the seed\'s restore) name none', async (ctx) => {
    if (!s3) return ctx.skip();
    const file = randomFile(1234);
    const r = await uploadFile(file, options({ 'aws.object.key': 'devices/edge-1/backup.zip' }), serverOnLoopback);
    expect(r.location).toBe(`s3://${bucket}/devices/edge-1/backup.zip`);
    const to = fresh('named.bin');
    await downloadFile(options(), to, { ...serverOnLoopback, objectName: 'devices/edge-1/backup.zip' });
    expect(sha(to)).toBe(sha(file));
  });

  it('a wrong secret is a TransferError naming S3\'s error code', async (ctx) => {
    if (!s3) return ctx.skip();
    const err = await rejection(uploadFile(randomFile(100), options({ 'aws.secret.access.key': 'wrong' }), serverOnLoopback));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/SignatureDoesNotMatch/);
    expect(err.message).toContain('HTTP 403');
    expect(err.message).not.toContain('wrong');
  });

  it('a missing bucket or object is a TransferError naming it; no file is left behind', async (ctx) => {
    if (!s3) return ctx.skip();
    const err = await rejection(uploadFile(randomFile(100), options({ 'aws.s3.bucket': 'no-such-bucket' }), serverOnLoopback));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/NoSuchBucket/);
    const to = fresh('nokey.bin');
    const down = await rejection(downloadFile(options({ 'aws.object.key': 'not/there.zip' }), to, serverOnLoopback));
    expect(down).toBeInstanceOf(TransferError);
    expect(down.message).toMatch(/NoSuchKey/);
    expect(fs.existsSync(to)).toBe(false);
  });

  it('cancelling an upload rejects with TransferCancelledError', async (ctx) => {
    if (!s3) return ctx.skip();
    const ac = new AbortController();
    const err = await rejection(uploadFile(randomFile(20 * 1024 * 1024), options({ 'aws.object.key': 'cancelled.bin' }), {
      ...serverOnLoopback,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    }));
    expect(err).toBeInstanceOf(TransferCancelledError);
  });
});

// --- azure: Azurite ---------------------------------------------------------------------------

describe('azure provider against Azurite', () => {
  let az: AzureServer | null = null;
  let sas = '';
  const container = 'kanto';

  beforeAll(async () => {
    az = await startAzurite();
    if (!az) return;
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(container).create();
    sas = generateBlobSASQueryParameters({
      containerName: container,
      permissions: ContainerSASPermissions.parse('racwl'),
      expiresOn: new Date(Date.now() + 3600_000),
    }, new StorageSharedKeyCredential(az.accountName, az.accountKey)).toString();
  });
  afterAll(async () => {
    await az?.stop();
  });

  const options = (extra: Record<string, string> = {}): TransferOptions => ({
    'storage.provider': 'azure',
    // No trailing slash: Kanto's concatenation needs one, so it is added.
    'azure.storage.endpoint': az!.blobEndpoint,
    'azure.shared.access.signature': sas,
    'azure.blob.container': container,
    ...extra,
  });

  it('uploads through the SAS only, with byte progress, and downloads the blob back identical', async (ctx) => {
    if (!az) return ctx.skip();
    const file = randomFile(9 * 1024 * 1024 + 3);
    const progress: number[] = [];
    const r = await uploadFile(file, options(), { ...serverOnLoopback, onProgress: (d) => progress.push(d) });
    expect(r.location).toBe(`${az.blobEndpoint}/${container}/${path.basename(file)}`);
    expect(progress.at(-1)).toBe(fs.statSync(file).size);
    const to = fresh('from-azure.bin');
    const d = await downloadFile(options({ 'azure.blob.name': path.basename(file) }), to, serverOnLoopback);
    expect(d.bytes).toBe(fs.statSync(file).size);
    expect(sha(to)).toBe(sha(file));
  });

  it('a bad SAS is a TransferError with Azure\'s code and status; the signature is not in the message', async (ctx) => {
    if (!az) return ctx.skip();
    const bad = sas.replace(/sig=[^&]+/, `sig=${encodeURIComponent(Buffer.alloc(32, 1).toString('base64'))}`);
    const err = await rejection(uploadFile(randomFile(100), options({ 'azure.shared.access.signature': bad }), serverOnLoopback));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/Authentication|Authorization/);
    expect(err.message).toContain('HTTP 403');
    expect(err.message).not.toContain('sig=');
    const to = fresh('bad-sas.bin');
    await expect(downloadFile(options({ 'azure.shared.access.signature': bad, 'azure.blob.name': 'x' }), to, serverOnLoopback)).rejects.toThrow(TransferError);
    expect(fs.existsSync(to)).toBe(false);
  });
});

// --- extractKantoZip --------------------------------------------------------------------------

/** Info-ZIP's `zip`, run in `cwd`. */
function zipCli(args: string[], cwd: string): void {
  const r = spawnSync('zip', args, { cwd });
  if (r.status !== 0) throw new Error(`zip ${args.join(' ')} failed: ${r.stderr.toString()}`);
}

/** A small tree with nesting, an empty directory and an empty file. */
function makeTree(root: string): void {
  const w = (rel: string, data: string | Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  w('a.txt', 'new a\n');
  w('empty', '');
  w('sub/b.txt', 'b');
  w('sub/deeper/c.bin', randomBytes(200_000));
  w('run.sh', '#!/bin/sh\n');
  fs.chmodSync(path.join(root, 'run.sh'), 0o755);
  fs.mkdirSync(path.join(root, 'empty-dir'));
}

/** Files and directories of a tree with their contents, for comparing. */
function contents(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rel, e] of Object.entries(describeTree(root))) out[rel] = e.type === 'file' ? `file:${e.sha256}` : e.type;
  return out;
}

/** A target with content of its own: an old `a.txt` (replaced) and `keep.txt` (stays). */
function existingTarget(): string {
  const dir = fresh('target');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'a.txt'), 'old a\n');
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'keep');
  return dir;
}

describe('extractKantoZip', () => {
  let src: string;
  beforeAll(() => {
    src = fresh('src');
    fs.mkdirSync(src);
    makeTree(src);
  });

  const expectRestored = (dir: string): void => {
    expect(contents(dir)).toEqual({ ...contents(src), 'keep.txt': `file:${createHash('sha256').update('keep').digest('hex')}` });
    // Permission bits travel in ZIPs from Unix hosts.
    expect(fs.statSync(path.join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dir, 'a.txt')).mode & 0o777).toBe(fs.statSync(path.join(src, 'a.txt')).mode & 0o777);
  };

  it('Coffer\'s own Kanto layout (`dir\\` entries, no manifest): replaces same names, keeps the rest', async () => {
    const snap = await snapshotOf(fresh('repo'), src);
    const zip = fresh('coffer-kanto.zip');
    const plan = await planSnapshotZip(snap.repo, snap.snapshot, kantoZipOptions(src));
    await writeSnapshotZip(plan, fs.createWriteStream(zip));
    const dir = existingTarget();
    const r = await extractKantoZip(zip, dir);
    expectRestored(dir);
    expect(r).toEqual({ files: 5, directories: 3 });
  });

  it('Info-ZIP `zip -r` (`dir/` entries, deflated) and `zip -r -D` (no directory entries: parents made as needed)', async () => {
    const withDirs = fresh('infozip.zip');
    zipCli(['-q', '-r', withDirs, '.'], src);
    const dir1 = existingTarget();
    await extractKantoZip(withDirs, dir1);
    expectRestored(dir1);

    const noDirs = fresh('infozip-D.zip');
    zipCli(['-q', '-r', '-D', noDirs, '.'], src);
    const dir2 = existingTarget();
    const r = await extractKantoZip(noDirs, dir2);
    // Without directory entries an empty directory cannot travel; everything else arrives.
    const { 'empty-dir': _, ...rest } = contents(src);
    expect(contents(dir2)).toEqual({ ...rest, 'keep.txt': `file:${createHash('sha256').update('keep').digest('hex')}` });
    expect(r.files).toBe(5);
  });

  it('symlink entries (zip -y) are written as regular files holding the target, as Kanto does', async () => {
    const s = fresh('links');
    fs.mkdirSync(s);
    fs.writeFileSync(path.join(s, 'real'), 'r');
    fs.symlinkSync('/etc/passwd', path.join(s, 'abs-link'));
    const zip = fresh('links.zip');
    zipCli(['-q', '-r', '-y', zip, '.'], s);
    const dir = fresh('links-target');
    fs.mkdirSync(dir);
    await extractKantoZip(zip, dir);
    const st = fs.lstatSync(path.join(dir, 'abs-link'));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o111).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'abs-link'), 'utf8')).toBe('/etc/passwd');
  });

  it('backslash-separated names (Windows-made ZIPs) land in directories; setuid and setgid bits are dropped', async () => {
    const zip = fresh('windows.zip');
    await buildZip(zip, [
      { name: 'w\\', kind: 'dir' },
      { name: 'w\\sub\\f.txt', data: 'f' },
      { name: 'suid', data: '#!/bin/sh\n', mode: 0o106755 },
    ]);
    const dir = fresh('windows-target');
    fs.mkdirSync(dir);
    expect(await extractKantoZip(zip, dir)).toEqual({ files: 2, directories: 2 });
    expect(fs.readFileSync(path.join(dir, 'w', 'sub', 'f.txt'), 'utf8')).toBe('f');
    expect(fs.statSync(path.join(dir, 'suid')).mode & 0o7777).toBe(0o755);
  });

  describe('refuses what could escape, writing nothing', () => {
    // Each case: an innocent entry first, so "nothing written" shows the check runs before any write.
    const attacks = ['../x', '/etc/coffer-zip-slip', 'a\\..\\..\\x', 'C:\\x', 'c:x', '\\x', 'a/../../x', 'n\0ul'];
    for (const name of attacks) {
      it(`entry ${JSON.stringify(name)}`, async () => {
        const base = fresh('slip');
        const dir = path.join(base, 'inside', 'target');
        fs.mkdirSync(dir, { recursive: true });
        const zip = fresh('slip.zip');
        await buildZip(zip, [{ name: 'innocent.txt', data: 'i' }, { name, data: 'evil' }]);
        const err = await rejection(extractKantoZip(zip, dir));
        expect(err).toBeInstanceOf(TransferError);
        expect(err.message).toMatch(/unsafe ZIP entry name/);
        expect(listAll(base)).toEqual(['inside', 'inside/target']);
        expect(fs.existsSync('/etc/coffer-zip-slip')).toBe(false);
      });
    }
  });

  it('never writes through a symlink planted in the target; a link named by a file entry is replaced, not followed', async () => {
    const base = fresh('planted');
    const outside = path.join(base, 'outside');
    const dir = path.join(base, 'target');
    fs.mkdirSync(outside, { recursive: true });
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(outside, 'victim'), 'original');
    fs.symlinkSync(outside, path.join(dir, 'evil'));
    fs.symlinkSync(path.join(outside, 'victim'), path.join(dir, 'victim-link'));

    for (const name of ['evil/x.txt', 'evil\\x.txt', 'evil/', 'evil\\sub\\']) {
      const zip = fresh('planted.zip');
      await buildZip(zip, [{ name, ...(name.endsWith('/') || name.endsWith('\\') ? { kind: 'dir' as const } : { data: 'x' }) }]);
      const err = await rejection(extractKantoZip(zip, dir));
      expect(err, name).toBeInstanceOf(TransferError);
      expect(err.message, name).toMatch(/symbolic link "evil"/);
      expect(listAll(outside), name).toEqual(['victim']);
    }

    const zip = fresh('replace-link.zip');
    await buildZip(zip, [{ name: 'victim-link', data: 'new' }]);
    await extractKantoZip(zip, dir);
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('original');
    expect(fs.lstatSync(path.join(dir, 'victim-link')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'victim-link'), 'utf8')).toBe('new');
    expect(listAll(outside)).toEqual(['victim']);
  });

  it('refuses a zip bomb (high compression ratio) and archives over the entry or size limits, writing nothing', async () => {
    const dir = fresh('bomb-target');
    fs.mkdirSync(dir);
    const bomb = fresh('bomb.zip');
    await buildZip(bomb, [{ name: 'ok.txt', data: 'fine' }, { name: 'zeros', stream: () => zeros(64 * 1024 * 1024), size: 64 * 1024 * 1024, compress: true }]);
    expect(fs.statSync(bomb).size).toBeLessThan(1024 * 1024);
    const err = await rejection(extractKantoZip(bomb, dir));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/zip bomb/);
    expect(listAll(dir)).toEqual([]);

    const many = fresh('many.zip');
    await buildZip(many, [{ name: 'a', data: '1' }, { name: 'b', data: '2' }, { name: 'c', data: '3' }]);
    await expect(extractKantoZip(many, dir, { maxEntries: 2 })).rejects.toThrow(/3 entries; at most 2/);
    await expect(extractKantoZip(many, dir, { maxTotalBytes: 2 })).rejects.toThrow(/more than 2 bytes/);
    expect(listAll(dir)).toEqual([]);
  });

  it('refuses many entries each just under the per-entry ratio grace that together expand a thousandfold', async () => {
    const dir = fresh('bomb-many-target');
    fs.mkdirSync(dir);
    const bomb = fresh('bomb-many.zip');
    const MiB = 1024 * 1024;
    await buildZip(bomb, Array.from({ length: 80 }, (_, i) => ({ name: `z${i}`, stream: () => zeros(MiB), size: MiB, compress: true })));
    expect(fs.statSync(bomb).size).toBeLessThan(MiB);
    const err = await rejection(extractKantoZip(bomb, dir));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/zip bomb/);
    expect(listAll(dir)).toEqual([]);
  });

  it('refuses an entry whose data inflates past its declared size, leaving no temporary file', async () => {
    const dir = fresh('liar-target');
    fs.mkdirSync(dir);
    const zip = fresh('liar.zip');
    await buildZip(zip, [{ name: 'liar', data: Buffer.alloc(5000, 1), compress: true }]);
    // Shrink the declared uncompressed size (local header and central directory) to 100 bytes.
    const buf = fs.readFileSync(zip);
    const local = buf.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    buf.writeUInt32LE(100, local + 22);
    const central = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    buf.writeUInt32LE(100, central + 24);
    fs.writeFileSync(zip, buf);
    const err = await rejection(extractKantoZip(zip, dir));
    expect(err).toBeInstanceOf(TransferError);
    expect(listAll(dir)).toEqual([]);
  });

  it('a file entry where the target holds a directory, a missing target, and a damaged ZIP are TransferErrors', async () => {
    const dir = fresh('clash');
    fs.mkdirSync(path.join(dir, 'a.txt'), { recursive: true });
    const zip = fresh('clash.zip');
    await buildZip(zip, [{ name: 'a.txt', data: 'x' }]);
    await expect(extractKantoZip(zip, dir)).rejects.toThrow(/a directory of that name exists/);
    await expect(extractKantoZip(zip, fresh('absent'))).rejects.toThrow(TransferError);
    const junk = fresh('junk.zip');
    fs.writeFileSync(junk, 'this is not a zip file at all, just text');
    await expect(extractKantoZip(junk, dir)).rejects.toThrow(/not a ZIP file/);
  });

  it('an aborted signal stops the extraction with TransferCancelledError', async () => {
    const dir = fresh('cancel-target');
    fs.mkdirSync(dir);
    const zip = fresh('cancel.zip');
    await buildZip(zip, [{ name: 'a', data: '1' }]);
    const ac = new AbortController();
    ac.abort();
    await expect(extractKantoZip(zip, dir, { signal: ac.signal })).rejects.toThrow(TransferCancelledError);
    expect(listAll(dir)).toEqual([]);
  });
});
