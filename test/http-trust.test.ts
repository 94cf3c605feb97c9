/**
 * What the HTTP adapters do so that no client reaches past its rights or holds the server: one
 * error behaviour on every surface (Retry-After on a busy 503), permissions before bodies (an
 * upload by a viewer is refused before its body is read), cross-site requests refused, no Basic
 * challenge for browsers, credentials kept out of the request log, non-finite query numbers 400,
 * stalled downloads cut so that their repository lock goes, deletes that do not wait a minute,
 * a cap on event streams per user, and --trust-proxy. SQLite only: nothing here is the catalog's.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/index.js';
import { errorHandler } from '../src/api/errors.js';
import { configurationErrorHandler } from '../src/api/dialects/configuration/errors.js';
import { riverbedErrorHandler } from '../src/api/dialects/riverbed/errors.js';
import { syncanoErrorHandler } from '../src/api/dialects/syncano/errors.js';
import { resolveServeConfig } from '../src/cli/serve-config.js';
import { CoreError } from '../src/core/index.js';
import { RepoLock } from '../src/repo/index.js';
import { catalogsUnderTest } from './catalogs.js';
import { ADMIN_PASSWORD, type ApiUnderTest, startApi, writeTree } from './api-harness.js';

const sqlite = (await catalogsUnderTest()).find((c) => c.name === 'sqlite')!;

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/** Sends the headers and `first` bytes of a body of `length` bytes, then nothing: the reply, if the server answers before the body is in. */
function stalledUpload(port: number, o: { method: string; path: string; headers: Record<string, string>; length: number; first: Buffer }): Promise<{ status: number; body: string; sentAll: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method, path: o.path, headers: { ...o.headers, 'content-length': String(o.length) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, sentAll: false });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write(o.first);
    // The rest never comes: a server that reads the body before deciding never answers.
    setTimeout(() => reject(new Error(`no answer to ${o.method} ${o.path} while its body was incomplete`)), 10_000).unref();
  });
}

describe('HTTP trust', () => {
  let api: ApiUnderTest;
  let backupId: string;

  beforeAll(async () => {
    api = await startApi(sqlite);
    const src = path.join(api.dir, 'web');
    // Incompressible and larger than the loopback socket buffers, so that a client that stops reading stalls the download.
    writeTree(src, { 'big.bin': randomBytes(24 * 1024 * 1024), 'a.txt': 'a' });
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', kind: 'directory', path: src, exclude: [] }] } })).status).toBe(201);
    const created = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full' } });
    backupId = created.body.backup_id;
    expect((await api.backupDone(backupId, 120_000)).status).toBe('success');
  }, 180_000);
  afterAll(async () => {
    await api?.close();
  });

  it('every surface answers a busy 503 with Retry-After, and a 401 in its own words', async () => {
    const surfaces = [
      ['native', errorHandler], ['riverbed', riverbedErrorHandler], ['syncano', syncanoErrorHandler], ['configuration', configurationErrorHandler],
    ] as const;
    for (const [name, handler] of surfaces) {
      const app = Fastify();
      app.setErrorHandler(handler);
      app.get('/busy', async () => {
        throw new CoreError('unavailable', 'repository is already locked', undefined, { retryAfterSeconds: 9.5 });
      });
      app.get('/boom', async () => {
        throw new Error('secret detail');
      });
      const busy = await app.inject({ method: 'GET', url: '/busy' });
      expect([name, busy.statusCode, busy.headers['retry-after']]).toEqual([name, 503, '10']);
      const boom = await app.inject({ method: 'GET', url: '/boom' });
      expect([name, boom.statusCode, boom.body.includes('secret detail')]).toEqual([name, 500, false]);
      await app.close();
    }
  });

  it('F3: DELETE of a backup whose repository is locked answers 503 with Retry-After within seconds', async () => {
    const repo = await api.core.repositories.open(1);
    const lock = await RepoLock.acquire(repo, false);
    try {
      const native = await api.call('DELETE', `/api/v1/backup/${backupId}`);
      expect([native.status, native.body.error]).toEqual([503, 'unavailable']);
      expect(Number(native.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const syncano = await api.call('DELETE', `/v1/backups/full/${backupId.replace('backup-', '')}/`);
      expect(syncano.status).toBe(503);
      expect(Number(syncano.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await lock.release();
    }
    expect((await api.call('GET', `/api/v1/backup/${backupId}`)).status).toBe(200);
  }, 60_000);

  it('M3: an upload by a viewer is 403 before its body is read; JSON to an upload route is 415', async () => {
    const port = await listen(api.app);
    const big = 20 * 1024 * 1024;
    const routes = [
      { method: 'POST', path: '/api/v1/backup/upload', type: 'application/json' },
      { method: 'POST', path: '/api/v1/backup/upload', type: 'application/octet-stream' },
      { method: 'POST', path: '/api/npm.backup/1.0/backups/upload', type: 'application/json' },
      { method: 'PUT', path: '/api/v1/configuration/backup', type: 'multipart/form-data; boundary=x' },
    ];
    for (const r of routes) {
      const got = await stalledUpload(port, { method: r.method, path: r.path, headers: { 'x-api-key': api.keys.viewer, 'content-type': r.type }, length: big, first: Buffer.from('{"a":"xxxx') });
      expect([r.path, r.type, got.status]).toEqual([r.path, r.type, 403]);
    }
    // Whoever may upload: a JSON body is refused for its media type, not buffered.
    for (const p of ['/api/v1/backup/upload', '/api/npm.backup/1.0/backups/upload']) {
      const got = await stalledUpload(port, { method: 'POST', path: p, headers: { 'x-api-key': api.keys.backup_operator, 'content-type': 'application/json' }, length: big, first: Buffer.from('{"a":"xxxx') });
      expect([p, got.status]).toEqual([p, 415]);
    }
  }, 60_000);

  it('M10: a cross-site form POST with cached Basic credentials is 403; same-origin and API clients pass', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const url = '/v1/instances/web/restores/';
    const evil = await api.call('POST', url, { as: 'none', headers: { ...basic, ...form, origin: 'https://evil.example' }, payload: 'backup=999999' });
    expect([evil.status, evil.body.detail]).toEqual([403, expect.stringMatching(/cross-site/)]);
    const fetched = await api.call('POST', url, { as: 'none', headers: { ...basic, ...form, 'sec-fetch-site': 'cross-site' }, payload: 'backup=999999' });
    expect(fetched.status).toBe(403);
    const native = await api.call('DELETE', '/api/v1/backup/backup-999999', { headers: { origin: 'null' } });
    expect([native.status, native.body.error]).toEqual([403, 'forbidden']);
    const riverbed = await api.call('POST', '/api/npm.backup/1.0/backups', { headers: { 'sec-fetch-site': 'same-site' }, body: {} });
    expect([riverbed.status, riverbed.body.error_id]).toEqual([403, 'AUTH_FORBIDDEN']);
    // The server's own page, and API clients without these headers, reach the route (400: no such backup).
    const own = await api.call('POST', url, { as: 'none', headers: { ...basic, ...form, origin: 'http://localhost:8080', host: 'localhost:8080', 'sec-fetch-site': 'same-origin' }, payload: 'backup=999999' });
    expect([own.status, own.body.backup]).toEqual([400, expect.any(Array)]);
    expect((await api.call('POST', url, { as: 'none', headers: { ...basic, ...form }, payload: 'backup=999999' })).status).toBe(400);
    // Reading is never refused.
    expect((await api.call('GET', '/api/v1/backup/list', { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
  });

  it('M10: browsers get no Basic challenge (they would cache the password); API clients still do', async () => {
    const browser = await api.call('GET', '/v1/backups/full/', { as: 'none', headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none' } });
    expect([browser.status, browser.headers['www-authenticate']]).toEqual([401, undefined]);
    const page = await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { origin: 'https://evil.example' } });
    expect([page.status, page.headers['www-authenticate']]).toEqual([401, undefined]);
    const client = await api.call('GET', '/api/v1/backup/list', { as: 'none' });
    expect([client.status, client.headers['www-authenticate']]).toEqual([401, 'Basic realm="coffer"']);
  });

  it('L2: the request log holds neither API keys in the query nor archive tokens', async () => {
    let log = '';
    const stream = new Writable({ write(chunk, _enc, done) { log += String(chunk); done(); } });
    const app = await buildApp(api.core, { logger: { level: 'debug', stream } as never });
    try {
      const key = api.keys.viewer;
      await app.inject({ method: 'GET', url: `/v1/backups/full/?api_key=${encodeURIComponent(key)}` });
      await app.inject({ method: 'GET', url: `/v1/backups/partial/?page_size=5&token=tok-SECRET-1&API_KEY=${encodeURIComponent(key)}` });
      await app.inject({ method: 'GET', url: '/v1/archives/ARCHIVE-TOKEN-SECRET.abc/backup.zip' });
      expect(log).toContain('/v1/backups/full/?api_key=');
      expect(log).toContain('page_size=5');
      for (const secret of [key, 'tok-SECRET-1', 'ARCHIVE-TOKEN-SECRET']) expect(log).not.toContain(secret);
    } finally {
      await app.close();
    }
  });

  it('F2: limit and offset of 1e309, Infinity or -Infinity are 400 on every route', async () => {
    const got: string[] = [];
    for (const route of ['/api/v1/jobs', '/api/v1/backup/list', '/api/v1/audit', '/v1/backups/full/']) {
      for (const name of route.startsWith('/v1/') ? ['page_size'] : ['limit', 'offset']) {
        for (const value of ['1e309', 'Infinity', '-Infinity', '1e400']) {
          const r = await api.call('GET', `${route}?${name}=${value}`);
          got.push(`${route}?${name}=${value}: ${r.status}`);
        }
      }
    }
    expect(got.filter((line) => !line.endsWith(': 400'))).toEqual([]);
    expect((await api.call('GET', '/api/v1/jobs?limit=Infinity')).body).toMatchObject({ error: 'bad_request', message: 'query.limit must be a finite number' });
  });

  it('M8: a download the client stops reading is ended, and a delete needing the exclusive lock then succeeds', async () => {
    const app = await buildApp(api.core, { transferIdleMs: 1000 });
    try {
      const port = await listen(app);
      const socket = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`GET /api/v1/backup/${backupId}/file HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: ${api.keys.viewer}\r\n\r\n`);
      let received = 0;
      await new Promise<void>((resolve) => socket.once('data', (chunk: Buffer) => {
        received += chunk.length;
        resolve();
      }));
      // The client never reads again.
      socket.pause();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(received).toBeGreaterThan(0);
      const del = await app.inject({ method: 'DELETE', url: `/api/v1/backup/${backupId}`, headers: { 'x-api-key': api.keys.admin } });
      expect([del.statusCode, del.body]).toEqual([204, '']);
      socket.resume();
      await closed;
    } finally {
      await app.close();
    }
  }, 120_000);
});

describe('event streams per user', () => {
  let api: ApiUnderTest;
  afterAll(async () => {
    await api?.close();
  });

  it('Suspicion 11: a user may follow 20 event streams at once; the 21st is 429', async () => {
    // An API-only process runs no jobs: the backup stays queued and its streams stay open.
    api = await startApi(sqlite, { role: 'api' });
    const src = path.join(api.dir, 'web');
    writeTree(src, { 'a.txt': 'a' });
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', kind: 'directory', path: src, exclude: [] }] } })).status).toBe(201);
    const job = (await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full' } })).body.job_id as string;
    const port = await listen(api.app);
    const open = (key: string) => new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `/api/v1/jobs/${job}/events`, headers: { 'x-api-key': key } }, resolve).on('error', reject);
    });
    const streams: http.IncomingMessage[] = [];
    for (let i = 0; i < 20; i++) streams.push(await open(api.keys.viewer));
    expect(streams.map((s) => s.statusCode)).toEqual(Array(20).fill(200));
    const extra = await open(api.keys.viewer);
    expect([extra.statusCode, Number(extra.headers['retry-after']) >= 1]).toEqual([429, true]);
    extra.resume();
    // Another user is not affected; closing one stream frees a place.
    const other = await open(api.keys.admin);
    expect(other.statusCode).toBe(200);
    other.destroy();
    const first = streams.shift()!;
    const gone = new Promise<void>((resolve) => first.once('close', () => resolve()));
    first.destroy();
    await gone;
    let again = await open(api.keys.viewer);
    // The server sees the close a moment after the client.
    for (let i = 0; i < 50 && again.statusCode === 429; i++) {
      again.resume();
      await new Promise((r) => setTimeout(r, 50));
      again = await open(api.keys.viewer);
    }
    expect(again.statusCode).toBe(200);
    for (const s of [...streams, again]) s.destroy();
  }, 60_000);
});

describe('--trust-proxy', () => {
  it('is off by default and read from the flag or COFFER_TRUST_PROXY', () => {
    expect(resolveServeConfig({}, {})['trust-proxy']).toBeUndefined();
    expect(resolveServeConfig({}, { COFFER_TRUST_PROXY: '10.0.0.1/8' })['trust-proxy']).toBe('10.0.0.1/8');
    expect(resolveServeConfig({ trustProxy: 'true' }, {})['trust-proxy']).toBe('true');
  });

  it('takes the host a proxy forwarded only when trusted (the cross-site check compares Origin with it)', async () => {
    const api = await startApi(sqlite);
    try {
      const headers = { origin: 'https://backup.example.com', 'x-forwarded-host': 'backup.example.com', 'x-forwarded-for': '203.0.113.9' };
      expect((await api.call('DELETE', '/api/v1/backup/backup-999999', { headers })).status).toBe(403);
      const trusted = await buildApp(api.core, { trustProxy: true });
      try {
        const r = await trusted.inject({ method: 'DELETE', url: '/api/v1/backup/backup-999999', headers: { ...headers, 'x-api-key': api.keys.admin } });
        expect(r.statusCode).toBe(404);
      } finally {
        await trusted.close();
      }
    } finally {
      await api.close();
    }
  });
});
