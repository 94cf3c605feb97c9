/**
 * The Riverbed npm.backup 1.0 dialect (docs/dialects.md) end to end, on SQLite and PostgreSQL: every route
 * of the seed replayed against a real Core whose built-in instance `device` backs up a temporary
 * tree; every backup status word reached (started, completed, failed, uploading); the backup file
 * downloaded (exact Content-Length, `unzip -t`), uploaded back and restored (merge: uploads never delete); hostile files
 * refused; one restore at a time; restore_status from not_run to completed; factory reset;
 * 401/403/404. Then Riverbed's documentation's requests over real HTTP against a `coffer serve` process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORE_ERROR_REPLY } from '../src/api/dialects/riverbed/errors.js';
import { CORE_ERROR_CODES } from '../src/core/index.js';
import { VERSION } from '../src/repo/index.js';
import { buildZip, manifestText, mdata, mfile } from '../src/repo/archive/testing.js';
import { type ApiUnderTest, type Who, ADMIN_KEY, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { manifest, messagesLogger, pseudoRandom, tempDir } from './helpers.js';
import { ADMIN_KEY as SERVER_ADMIN_KEY, startServer, until } from './server-process.js';

const catalogs = await catalogsUnderTest();

const BASE = '/api/npm.backup/1.0';
/** The backup object's fields: Riverbed's documentation's, with Coffer's `partial` and `uploaded` (where a backup came from, what it holds). */
const SEED_BACKUP_FIELDS = ['backup_time', 'description', 'hostname', 'id', 'model', 'partial', 'serial', 'size', 'status', 'status_message', 'sw_version', 'uploaded'];
const RESTORE_STATUS_FIELDS = ['last_restore_time', 'status', 'status_message'];
const IDENTITY = { hostname: 'rvbd-test-host', model: 'SteelCentral NPM', serial: 'RVBD-0042' };

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(catalogs)('Riverbed npm.backup 1.0 on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let tree: string;
  /** The first completed backup of the device, and the tree as it held then. */
  let first: { id: string; size: number };
  let firstState: ReturnType<typeof manifest>;
  let failedId: string;
  const logs: string[] = [];
  const restarts = () => logs.filter((m) => m.startsWith('services restarted')).length;

  const get = (url: string, as: Who = 'viewer') => api.call('GET', `${BASE}${url}`, { as });
  const backupDone = (id: string) => until(`backup ${id}`, async () => {
    const r = await get(`/backups/items/${id}`);
    expect(r.status, r.text).toBe(200);
    return ['completed', 'failed'].includes(r.body.status) ? r.body : undefined;
  }, 60_000, 50);
  const restoreFinished = () => until('the restore to end', async () => {
    const r = await get('/restore_status', 'admin');
    expect(r.status).toBe(200);
    return r.body.status === 'started' ? undefined : r.body;
  }, 60_000, 50);
  const setDeviceParts = async (dir: string) => {
    const r = await api.call('PUT', '/api/v1/instances/device', { body: { parts: [{ name: 'files', kind: 'directory', path: dir }] } });
    expect(r.status, r.text).toBe(200);
  };
  const createBackup = async (body: unknown = { description: 'made by a test' }, as: Who = 'backup_operator') => {
    const r = await api.call('POST', `${BASE}/backups`, { as, body });
    expect(r.status, r.text).toBe(201);
    return r.body;
  };
  const download = async (id: string, as: Who = 'backup_operator') => {
    const r = await api.app.inject({ method: 'GET', url: `${BASE}/backups/items/${id}/file`, headers: as === 'none' ? {} : { 'x-api-key': api.keys[as] } });
    return { status: r.statusCode, headers: r.headers, body: r.rawPayload };
  };
  const upload = async (payload: Buffer, as: Who = 'backup_operator', type = 'application/octet-stream') => {
    const r = await api.app.inject({ method: 'POST', url: `${BASE}/backups/upload`, headers: { 'x-api-key': as === 'none' ? '' : api.keys[as], 'content-type': type }, payload });
    return { status: r.statusCode, headers: r.headers, body: r.body ? JSON.parse(r.body) : null };
  };
  const listedIds = async () => (await get('/backups', 'admin')).body.items.map((b: { id: string }) => b.id).sort();
  const configurationRestores = async () => (await api.call('GET', '/api/v1/audit?action=configuration.restore')).body.length as number;
  /** POST restore; waits for its end and, when it put Coffer's configuration back, for the services' restart that follows. */
  const restore = async (id: string) => {
    const restartsBefore = restarts();
    const configBefore = await configurationRestores();
    const accepted = await api.call('POST', `${BASE}/backups/items/${id}/restore`);
    expect(accepted.status, accepted.text).toBe(202);
    const done = await restoreFinished();
    if ((await configurationRestores()) > configBefore) await until('services restarted', async () => restarts() > restartsBefore || undefined, 30_000, 20);
    return { accepted: accepted.body, done };
  };

  beforeAll(async () => {
    api = await startApi(cat, { identity: IDENTITY, limits: { maxBackupsPerAccount: 0 }, logger: messagesLogger(logs) });
    tree = path.join(api.dir, 'device-tree');
    writeTree(tree, { 'etc/app.conf': 'mode=fast\n', 'data/blob.bin': pseudoRandom(150_000, 7), 'logs/today.log': 'started\n', 'README': 'device files' });
    fs.mkdirSync(path.join(tree, 'empty'));
    await setDeviceParts(tree);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('GET /restore_status before any restore: not_run, last_restore_time 0', async () => {
    const r = await get('/restore_status');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(RESTORE_STATUS_FIELDS);
    expect(r.body).toMatchObject({ last_restore_time: 0, status: 'not_run' });
    expect(typeof r.body.status_message).toBe('string');
  });

  it('POST /backups with a backup object: only description is used; started, then completed, with exactly the seed\'s fields', async () => {
    const before = nowSeconds();
    // A client may send back a whole backup object as a GET gave it: the read-only fields are ignored.
    const r = await api.call('POST', `${BASE}/backups`, {
      as: 'backup_operator',
      body: { description: 'nightly', id: '999999', status: 'completed', size: 5, hostname: 'spoofed', model: 'x', serial: 'y', sw_version: '0.0', backup_time: 1, status_message: 'hi' },
    });
    expect(r.status, r.text).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(SEED_BACKUP_FIELDS);
    expect(r.body).toMatchObject({ description: 'nightly', status: 'started', ...IDENTITY, sw_version: VERSION });
    expect(r.body.id).toMatch(/^[0-9]+$/);
    expect(r.body.id).not.toBe('999999');
    expect(r.headers['location']).toBe(`${BASE}/backups/items/${r.body.id}`);

    const done = await backupDone(r.body.id);
    expect(done.status, done.status_message).toBe('completed');
    expect(Object.keys(done).sort()).toEqual(SEED_BACKUP_FIELDS);
    expect(done).toMatchObject({ id: r.body.id, description: 'nightly', ...IDENTITY, sw_version: VERSION });
    expect(Number.isInteger(done.backup_time)).toBe(true);
    expect(done.backup_time).toBeGreaterThanOrEqual(before - 1);
    expect(done.backup_time).toBeLessThanOrEqual(nowSeconds() + 1);
    expect(done.size).toBeGreaterThan(150_000);
    first = { id: done.id, size: done.size };
    firstState = manifest(tree);

    const list = await get('/backups');
    expect(list.status).toBe(200);
    expect(Object.keys(list.body)).toEqual(['items']);
    expect(list.body.items).toEqual([done]);
    // No body at all is a backup without a description.
    const bare = await api.call('POST', `${BASE}/backups`, { as: 'admin' });
    expect(bare.status, bare.text).toBe(201);
    expect(bare.body.description).toBe('');
    expect((await backupDone(bare.body.id)).status).toBe('completed');

    // One answer is bounded; X-Total-Count has them all and limit/offset page past the bound.
    const all = await get('/backups');
    expect(all.headers['x-total-count']).toBe(String(all.body.items.length));
    const one = await get('/backups?limit=1&offset=1');
    expect(one.body.items).toEqual([all.body.items[1]]);
    expect(one.headers['x-total-count']).toBe(String(all.body.items.length));
    for (const q of ['limit=0', 'limit=1001', 'offset=-1', 'limit=1e309', 'limit=x']) expect((await get(`/backups?${q}`)).status, q).toBe(400);
  }, 120_000);

  it('POST /backups refuses malformed JSON, wrong types and other media types with 400/415, storing nothing', async () => {
    const before = await listedIds();
    const raw = (payload: string, type = 'application/json') => api.app.inject({ method: 'POST', url: `${BASE}/backups`, headers: { 'x-api-key': api.keys.admin, 'content-type': type }, payload });
    for (const [payload, reason] of [['{"description": ', /JSON/], ['[1, 2]', /object/], ['"text"', /object/], ['{"description": 5}', /description/], ['{"size": "big"}', /size/], [JSON.stringify({ description: 'x'.repeat(257) }), /description/]] as const) {
      const r = await raw(payload);
      expect(r.statusCode, payload).toBe(400);
      const body = JSON.parse(r.body);
      expect(Object.keys(body).sort()).toEqual(['error_id', 'error_text']);
      expect(body.error_id).toBe('INVALID_REQUEST');
      expect(body.error_text, payload).toMatch(reason);
    }
    const csv = await raw('description\nx', 'text/csv');
    expect(csv.statusCode).toBe(415);
    expect(JSON.parse(csv.body).error_id).toBe('UNSUPPORTED_MEDIA_TYPE');
    // A backup file sent to POST /backups is not a backup object.
    expect((await raw('PK\u0003\u0004', 'application/octet-stream')).statusCode).toBe(415);
    expect(await listedIds()).toEqual(before);
  });

  it('a part whose path does not exist: completed, the problem in status_message', async () => {
    await setDeviceParts(path.join(api.dir, 'no-such-dir'));
    try {
      const done = await backupDone((await createBackup({ description: 'missing part' })).id);
      expect(done.status).toBe('completed');
      expect(done.status_message).toMatch(/no-such-dir/);
    } finally {
      await setDeviceParts(tree);
    }
  }, 60_000);

  it('a repository that is gone: the backup is failed with the reason; its file and a restore of it are 409', async () => {
    const broken = path.join(api.dir, 'broken-repo');
    expect((await api.call('POST', '/api/v1/repositories', { body: { name: 'broken', location: broken } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/device', { body: { parts: [{ name: 'files', path: tree }], repository: 'broken' } })).status).toBe(200);
    // The repository's directory is replaced by a file: nothing can be written there.
    fs.rmSync(broken, { recursive: true, force: true });
    fs.writeFileSync(broken, 'not a repository');
    try {
      const made = await createBackup({ description: 'doomed' });
      expect(made.status).toBe('started');
      const done = await backupDone(made.id);
      expect(done.status).toBe('failed');
      expect(done.status_message).not.toBe('');
      failedId = done.id;
    } finally {
      await setDeviceParts(tree);
    }
    const file = await download(failedId);
    expect(file.status).toBe(409);
    expect(JSON.parse(file.body.toString()).error_id).toBe('CONFLICT');
    const r = await api.call('POST', `${BASE}/backups/items/${failedId}/restore`);
    expect(r.status).toBe(409);
    expect(r.body.error_id).toBe('CONFLICT');
  }, 60_000);

  it('GET /backups/items/{id}/file: the backup file, Content-Length = size, that unzip -t accepts; HEAD gives the same length', async () => {
    const r = await download(first.id);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(Number(r.headers['content-length'])).toBe(first.size);
    expect(r.body.length).toBe(first.size);
    expect(r.headers['content-disposition']).toMatch(/^attachment; filename=".+\.zip"$/);
    const zip = path.join(api.dir, 'first.zip');
    fs.writeFileSync(zip, r.body);
    const test = execFileSync('unzip', ['-t', zip]).toString();
    expect(test).toMatch(/No errors detected/);
    const listing = execFileSync('unzip', ['-Z1', zip]).toString().split('\n');
    expect(listing).toContain('manifest.json');
    expect(listing.some((l) => l.endsWith('etc/app.conf'))).toBe(true);
    const head = await api.app.inject({ method: 'HEAD', url: `${BASE}/backups/items/${first.id}/file`, headers: { 'x-api-key': api.keys.backup_operator } });
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(first.size);
    expect(head.rawPayload.length).toBe(0);
  });

  it('POST /backups/upload over real HTTP: listed as uploading while the body arrives, then a new completed backup; its restore puts back what it holds (merge: an upload never deletes)', async () => {
    const file = (await download(first.id)).body;
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = api.app.server.address() as AddressInfo;
    const before = await listedIds();
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${BASE}/backups/upload`, headers: { 'x-api-key': api.keys.backup_operator, 'content-type': 'application/octet-stream', 'content-length': String(file.length) } });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    // Half of the file: the upload is listed, as uploading; then the rest.
    req.write(file.subarray(0, Math.floor(file.length / 2)));
    const uploading = await until('an uploading backup in the list', async () => (await get('/backups')).body.items.find((b: { status: string }) => b.status === 'uploading'), 30_000, 20);
    expect(Object.keys(uploading).sort()).toEqual(SEED_BACKUP_FIELDS);
    expect(before).not.toContain(uploading.id);
    req.end(file.subarray(Math.floor(file.length / 2)));
    const r = await answer;
    expect(r.status, r.body).toBe(201);
    const up = JSON.parse(r.body);
    expect(Object.keys(up).sort()).toEqual(SEED_BACKUP_FIELDS);
    // The file's description is its uploader's word, kept as information only: the upload has none of its own.
    expect(up).toMatchObject({ id: uploading.id, status: 'completed', description: '', uploaded: true, partial: false, ...IDENTITY });
    expect(up.size).toBeGreaterThan(0);
    expect(await listedIds()).toEqual([...before, up.id].sort());
    // Its own file downloads too, of its own size.
    const again = await download(up.id);
    expect(again.status).toBe(200);
    expect(again.body.length).toBe(up.size);

    // The device changes: a file added, one changed, one removed. The restore undoes the change and the removal;
    // an uploaded backup is the uploader's word, not the device as Coffer read it, so it is restored merge: the added file stays.
    writeTree(tree, { 'added-later.txt': 'new', 'etc/app.conf': 'mode=slow\n' });
    fs.rmSync(path.join(tree, 'logs/today.log'));
    expect(manifest(tree)).not.toEqual(firstState);
    const { accepted, done } = await restore(up.id);
    expect(Object.keys(accepted).sort()).toEqual(RESTORE_STATUS_FIELDS);
    expect(accepted.status).toBe('started');
    expect(done.status, done.status_message).toBe('completed');
    expect(done.status_message).toMatch(/uploaded backup: restored merge/);
    expect(fs.readFileSync(path.join(tree, 'added-later.txt'), 'utf8')).toBe('new');
    fs.rmSync(path.join(tree, 'added-later.txt'));
    expect(manifest(tree)).toEqual(firstState);
  }, 120_000);

  describe('hostile uploads are 400 and leave the list as it was', () => {
    const escaped = () => path.join(api.dir, 'escaped');
    const zipOf = async (entries: Parameters<typeof buildZip>[1], files: Parameters<typeof manifestText>[0]) => {
      const f = path.join(api.dir, `hostile-${Math.random().toString(36).slice(2)}.zip`);
      await buildZip(f, [...entries, { name: 'manifest.json', data: manifestText(files, { snapshot: { id: 'f'.repeat(64), time: '2024-01-02T03:04:05Z', hostname: 'h', paths: ['/srv/x'], tags: [] }, layout: { content_dir: 'content', snapshot_root: '/' } }) }]);
      const buf = fs.readFileSync(f);
      fs.rmSync(f);
      return buf;
    };
    const dirs = [mfile('content', 'dir'), mfile('content/srv', 'dir'), mfile('content/srv/x', 'dir')];
    const cases: [string, () => Promise<Buffer>][] = [
      ['not a zip', async () => Buffer.from('this is not a backup file\n'.repeat(50))],
      ['an empty body', async () => Buffer.alloc(0)],
      ['a truncated backup file', async () => {
        const b = (await download(first.id)).body;
        return b.subarray(0, Math.floor(b.length * 0.6));
      }],
      ['zip slip (../)', () => zipOf([{ name: 'content/srv/x/../../../../../../../../escaped', data: 'pwned' }], [...dirs, mdata('content/srv/x/../../../../../../../../escaped', 'pwned')])],
      ['zip slip (absolute path)', () => zipOf([{ name: path.join(api.dir, 'escaped'), data: 'pwned' }], [...dirs])],
      ['a wrong checksum', () => zipOf([{ name: 'content/srv/x/a', data: 'alpha' }], [...dirs, { ...mdata('content/srv/x/a', 'alpha'), sha256: 'a'.repeat(64) }])],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const payload = await make();
        const before = await listedIds();
        const r = await upload(payload);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(Object.keys(r.body).sort()).toEqual(['error_id', 'error_text']);
        expect(r.body.error_id).toBe('INVALID_REQUEST');
        expect(await listedIds()).toEqual(before);
        expect(fs.existsSync(escaped())).toBe(false);
      }, 60_000);
    }
  });

  it('restore_status goes started → completed; two restores at once: one accepted, the other 409', async () => {
    // A backup of another instance keeps the single job slot busy, so the restores wait as `started`.
    const blockerDir = path.join(api.dir, 'blocker');
    writeTree(blockerDir, { 'big.bin': pseudoRandom(24 * 1024 * 1024, 3) });
    expect((await api.call('PUT', '/api/v1/instances/blocker', { body: { parts: [{ name: 'p', path: blockerDir }] } })).status).toBe(201);
    const blocker = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'blocker', type: 'full' } });
    expect(blocker.status).toBe(201);

    writeTree(tree, { 'added-later.txt': 'again' });
    const restartsBefore = restarts();
    const configBefore = await configurationRestores();
    const both = await Promise.all([0, 1].map(() => api.call('POST', `${BASE}/backups/items/${first.id}/restore`)));
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const accepted = both.find((r) => r.status === 202)!;
    const refused = both.find((r) => r.status === 409)!;
    expect(accepted.body.status).toBe('started');
    expect(accepted.body.last_restore_time).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(refused.body.error_id).toBe('CONFLICT');
    expect(refused.body.error_text).toMatch(/restore/);
    const started = await get('/restore_status');
    expect(started.body).toMatchObject({ status: 'started', last_restore_time: accepted.body.last_restore_time });

    const done = await restoreFinished();
    expect(done.status, done.status_message).toBe('completed');
    expect(done.last_restore_time).toBe(accepted.body.last_restore_time);
    expect(done.status_message).toMatch(new RegExp(`backup ${first.id}\\b`));
    if ((await configurationRestores()) > configBefore) await until('services restarted', async () => restarts() > restartsBefore || undefined, 30_000, 20);
    expect(manifest(tree)).toEqual(firstState);
    // Once it has ended, the next restore is accepted again.
    expect((await restore(first.id)).done.status).toBe('completed');
  }, 180_000);

  it('404: unknown ids, ids that are not numbers, backups of other instances, paths the dialect does not have', async () => {
    const other = (await api.call('GET', '/api/v1/backup/list?instance=blocker')).body[0].id.replace('backup-', '');
    for (const id of ['999999', 'abc', '0', '-1', '1.5', '99999999999', other]) {
      for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['GET', '/file'], ['POST', '/restore']] as const) {
        const r = await api.call(method, `${BASE}/backups/items/${id}${suffix}`);
        expect(r.status, `${method} ${id}${suffix}`).toBe(404);
        expect(r.body.error_id).toBe('RESOURCE_NOT_FOUND');
      }
    }
    for (const url of ['/nonesuch', '/backups/items', '/backups/items/1/nonesuch']) {
      const r = await api.call('GET', `${BASE}${url}`);
      expect(r.status, url).toBe(404);
      expect(r.body).toMatchObject({ error_id: 'RESOURCE_NOT_FOUND' });
    }
  });

  it('roles: every route × no credentials / viewer / backup_operator / admin (the matrix covers the OpenAPI document)', async () => {
    const throwaway = (await backupDone((await createBackup({ description: 'to delete' }, 'admin')).id)).id;
    const ALL = { viewer: 200, backup_operator: 200, admin: 200 };
    type Row = [method: 'GET' | 'POST' | 'DELETE', route: string, url: string, ok: Partial<Record<Who, number>>, payload?: { type: string; data: Buffer }];
    const rows: Row[] = [
      ['GET', '/backups', '/backups', ALL],
      ['POST', '/backups', '/backups', { backup_operator: 201, admin: 201 }],
      ['GET', '/backups/items/{id}', `/backups/items/${first.id}`, ALL],
      // Backed-up content: not for viewers (backup.download).
      ['GET', '/backups/items/{id}/file', `/backups/items/${first.id}/file`, { backup_operator: 200, admin: 200 }],
      // Operators pass the role check and meet the bad file.
      ['POST', '/backups/upload', '/backups/upload', { backup_operator: 400, admin: 400 }, { type: 'application/octet-stream', data: Buffer.from('not a zip') }],
      // The admin passes the role check and meets the backup that failed.
      ['POST', '/backups/items/{id}/restore', `/backups/items/${failedId}/restore`, { admin: 409 }],
      ['DELETE', '/backups/items/{id}', `/backups/items/${throwaway}`, { admin: 204 }],
      // The admin's reset has a test of its own (the last one: it removes the other users).
      ['POST', '/backups/reset_factory', '/backups/reset_factory', {}],
      ['GET', '/restore_status', '/restore_status', ALL],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [method, route, url, ok, payload] of rows) {
      for (const who of ['none', 'viewer', 'backup_operator', 'admin'] as const) {
        if (route === '/backups/reset_factory' && who === 'admin') continue;
        const r = await api.call(method, `${BASE}${url}`, { as: who, ...(payload ? { payload: payload.data, headers: { 'content-type': payload.type } } : {}) });
        got.push(`${method} ${route} as ${who}: ${r.status}`);
        want.push(`${method} ${route} as ${who}: ${who === 'none' ? 401 : ok[who] ?? 403}`);
        if (r.status === 401) {
          expect(r.headers['www-authenticate']).toBe('Basic realm="coffer"');
          expect(r.body).toMatchObject({ error_id: 'AUTH_REQUIRED' });
        }
        if (r.status === 403) expect(r.body).toMatchObject({ error_id: 'AUTH_FORBIDDEN' });
        if (r.status === 204) expect(r.text).toBe('');
      }
    }
    expect(got).toEqual(want);
    expect(await listedIds()).not.toContain(throwaway);
    // Wrong credentials are 401 as well.
    const wrong = await api.call('GET', `${BASE}/backups`, { as: 'none', headers: { 'x-api-key': 'cfr_wrong' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error_id).toBe('AUTH_REQUIRED');

    const doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body as { paths: Record<string, Record<string, { tags?: string[] }>> };
    const documented = Object.entries(doc.paths).filter(([p]) => p.startsWith(`${BASE}/`))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.slice(BASE.length)}`)).sort();
    expect(rows.map(([method, route]) => `${method} ${route}`).sort()).toEqual(documented);
    expect(doc.paths[`${BASE}/backups`]!['get']!.tags).toEqual(['riverbed']);
    // Settle: the backups the matrix started end before the next test.
    for (const id of await listedIds()) await backupDone(id);
  }, 120_000);

  it('POST /backups/reset_factory: admin only; Coffer\'s configuration back to first start, every backup still listed; restore_status says so', async () => {
    for (const who of ['viewer', 'backup_operator'] as const) {
      const r = await api.call('POST', `${BASE}/backups/reset_factory`, { as: who });
      expect(r.status).toBe(403);
      expect(r.body.error_id).toBe('AUTH_FORBIDDEN');
    }
    const before = await listedIds();
    expect(before.length).toBeGreaterThanOrEqual(4);
    const r = await api.call('POST', `${BASE}/backups/reset_factory`, { as: 'admin' });
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(RESTORE_STATUS_FIELDS);
    expect(r.body.status).toBe('completed');
    expect(r.body.last_restore_time).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(r.body.status_message).toMatch(/first-start/);
    // The admin's key is the configured one (COFFER_ADMIN_API_KEY), so it still works; the other users are gone.
    expect(api.keys.admin).toBe(ADMIN_KEY);
    expect(await listedIds()).toEqual(before);
    expect((await api.call('GET', `${BASE}/backups`, { as: 'viewer' })).status).toBe(401);
    const status = await api.call('GET', `${BASE}/restore_status`, { as: 'admin' });
    expect(status.body).toMatchObject({ status: 'completed', last_restore_time: r.body.last_restore_time });
    expect(status.body.status_message).toMatch(/first-start/);
    // The device lost its parts; its backups are intact and still download.
    expect((await api.call('GET', '/api/v1/instances/device')).body.parts).toEqual([]);
    expect((await download(first.id, 'admin')).body.length).toBe(first.size);
    const audit = await api.call('GET', '/api/v1/audit?action=configuration.reset');
    expect(audit.body.length).toBe(1);

    // The backups restore after the reset, though the device has no parts now: each part goes back where the
    // backup read it from. A restore is then the latest again (the later of the two wins).
    writeTree(tree, { 'after-reset.txt': 'x' });
    const { done } = await restore(first.id);
    expect(done.status, done.status_message).toBe('completed');
    expect(done.status_message).toMatch(new RegExp(`backup ${first.id}\\b`));
    expect(done.last_restore_time).toBeGreaterThanOrEqual(r.body.last_restore_time);
    expect(manifest(tree)).toEqual(firstState);
    // Coffer's configuration came back with it: the users of the time of the backup sign in again, and the device has its parts.
    expect((await api.call('GET', `${BASE}/backups`, { as: 'viewer' })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/instances/device')).body.parts.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('Riverbed errors', () => {
  it('maps every core error code to a status and an error_id', () => {
    expect(Object.keys(CORE_ERROR_REPLY).sort()).toEqual([...CORE_ERROR_CODES].sort());
    expect(Object.fromEntries(Object.entries(CORE_ERROR_REPLY).map(([k, v]) => [k, v.status]))).toEqual({
      invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, quota_exceeded: 409, too_many_attempts: 429, unavailable: 503, internal: 500,
    });
    for (const { id } of Object.values(CORE_ERROR_REPLY)) expect(id).toMatch(/^[A-Z_]+$/);
  });
});

describe('Riverbed npm.backup 1.0 over real HTTP (coffer serve)', () => {
  it('replays the seed\'s requests against a listening server; identity from --model, --serial and the host', async () => {
    const dir = tempDir('coffer-riverbed-e2e-');
    const server = await startServer(['--data-dir', path.join(dir, 'data'), '--model', 'NPM-E2E', '--serial', 'SN-E2E-1']);
    try {
      const key = { 'x-api-key': SERVER_ADMIN_KEY };
      const json = async (method: string, url: string, body?: unknown) => {
        const res = await fetch(`${server.url}${BASE}${url}`, { method, headers: { ...key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
        const text = await res.text();
        return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
      };
      const root = path.join(dir, 'device');
      writeTree(root, { 'config/a.conf': 'a=1', 'data/b.bin': pseudoRandom(50_000, 11) });
      const put = await fetch(`${server.url}/api/v1/instances/device`, { method: 'PUT', headers: { ...key, 'content-type': 'application/json' }, body: JSON.stringify({ parts: [{ name: 'files', path: root }] }) });
      expect(put.status).toBe(200);
      const state = manifest(root);

      expect((await json('GET', '/restore_status')).body).toMatchObject({ last_restore_time: 0, status: 'not_run' });
      // backups: create
      const created = await json('POST', '/backups', { description: 'seed replay' });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({ status: 'started', hostname: os.hostname(), model: 'NPM-E2E', serial: 'SN-E2E-1', sw_version: VERSION });
      // backup: get
      const done = await until('the backup', async () => {
        const r = await json('GET', `/backups/items/${created.body.id}`);
        return r.body.status === 'started' ? undefined : r.body;
      }, 60_000, 100);
      expect(done.status, done.status_message).toBe('completed');
      // backups: get
      expect((await json('GET', '/backups')).body.items.map((b: { id: string }) => b.id)).toEqual([done.id]);
      // backup: download
      const file = await fetch(`${server.url}${BASE}/backups/items/${done.id}/file`, { headers: key });
      expect(file.status).toBe(200);
      expect(Number(file.headers.get('content-length'))).toBe(done.size);
      const bytes = Buffer.from(await file.arrayBuffer());
      expect(bytes.length).toBe(done.size);
      const zip = path.join(dir, 'backup.zip');
      fs.writeFileSync(zip, bytes);
      expect(execFileSync('unzip', ['-t', zip]).toString()).toMatch(/No errors detected/);
      // backups: upload
      const up = await fetch(`${server.url}${BASE}/backups/upload`, { method: 'POST', headers: { ...key, 'content-type': 'application/octet-stream' }, body: bytes });
      const uploaded = await up.json() as { id: string; status: string };
      expect(up.status, JSON.stringify(uploaded)).toBe(201);
      expect(uploaded.status).toBe('completed');
      // backup: restore (exact: the device's own whole backup; an uploaded one would only merge)
      writeTree(root, { 'stray.txt': 'added after the backup' });
      const restore = await json('POST', `/backups/items/${done.id}/restore`);
      expect(restore.status, restore.text).toBe(202);
      expect(restore.body.status).toBe('started');
      // restore_status: get
      const finished = await until('the restore', async () => {
        const r = await json('GET', '/restore_status');
        return r.body.status === 'started' ? undefined : r.body;
      }, 60_000, 100);
      expect(finished.status, finished.status_message).toBe('completed');
      expect(manifest(root)).toEqual(state);
      // backup: delete
      const del = await until('the delete (services restart after the restore)', async () => {
        const r = await json('DELETE', `/backups/items/${uploaded.id}`);
        return r.status === 409 ? undefined : r;
      }, 30_000, 100);
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      expect((await json('GET', `/backups/items/${uploaded.id}`)).status).toBe(404);
      // backups: reset_factory
      const reset = await json('POST', '/backups/reset_factory');
      expect(reset.status, reset.text).toBe(200);
      expect(reset.body.status).toBe('completed');
      expect((await json('GET', '/backups')).body.items.map((b: { id: string }) => b.id)).toEqual([done.id]);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
