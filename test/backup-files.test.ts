/**
 * Backup files through the native API, on SQLite and PostgreSQL: a download is a ZIP of exactly
 * its Content-Length (and the backup's size) that `unzip -t` accepts, whose manifest's checksums
 * match the content; an upload of it is a new backup that restores to the same bytes; hostile
 * files are refused with 400 and leave the catalog, the repository and the disk as they were.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { manifest, sh, tempDir } from './helpers.js';
import { ADMIN_KEY, type ServerProcess, client, startServer, until } from './server-process.js';
import { type TestZipEntry, buildZip, listAll, manifestText, mdata, mfile, zeros } from '../src/repo/archive/testing.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('backup files on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let src: string;
  let backupId: string;

  const backupDone = (id: string) => api.backupDone(id);
  const restoreDone = (jobId: string) => api.restoreDone(jobId);
  const instance = async (name: string, dir: string) => {
    const r = await api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: [{ name: 'site', kind: 'directory', path: dir, exclude: [] }] } });
    expect(r.status).toBe(201);
  };
  const download = async (id: string, as: 'viewer' | 'backup_operator' | 'admin' = 'backup_operator') => {
    const r = await api.app.inject({ method: 'GET', url: `/api/v1/backup/${id}/file`, headers: { 'x-api-key': api.keys[as] } });
    return { status: r.statusCode, headers: r.headers, body: r.rawPayload };
  };

  const upload = async (payload: Buffer | fs.ReadStream, query = '', as: 'admin' | 'backup_operator' | 'viewer' = 'backup_operator', type = 'application/octet-stream') => {
    const r = await api.app.inject({ method: 'POST', url: `/api/v1/backup/upload${query}`, headers: { 'x-api-key': api.keys[as], 'content-type': type }, payload });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null };
  };
  const snapshotCount = async () => {
    const repo = await api.core.repositories.open(1);
    return (await repo.listSnapshots()).length;
  };
  const backupCount = async () => (await api.call('GET', '/api/v1/backup/list?limit=1')).headers['x-total-count'];
  /** Everything in the test's directory that a refused upload must not change (the catalog's own files aside). */
  const disk = () => listAll(api.dir).filter((p) => !/^data\/(coffer\.db|repo\/locks)/.test(p));

  beforeAll(async () => {
    api = await startApi(cat);
    src = path.join(api.dir, 'web');
    writeTree(src, { 'index.html': '<h1>hi</h1>', 'img/logo.bin': randomBytes(300_000), 'sub/deep/a.txt': 'a', 'sub/b.txt': 'b', 'empty.txt': '' });
    fs.mkdirSync(path.join(src, 'empty-dir'));
    fs.symlinkSync('sub/b.txt', path.join(src, 'link-to-b'));
    await instance('web', src);
    const created = await api.call('POST', '/api/v1/backup/create', { as: 'backup_operator', body: { instance: 'web', type: 'full', label: 'l1', description: 'for the file' } });
    expect(created.status).toBe(201);
    backupId = created.body.backup_id;
    expect((await backupDone(backupId)).status).toBe('success');
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('downloads a ZIP of exactly Content-Length = the backup\'s size, that unzip -t accepts, with matching checksums', async () => {
    const b = (await api.call('GET', `/api/v1/backup/${backupId}`)).body;
    const r = await download(backupId);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/zip');
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expect(b.size).toBe(r.body.length);
    expect(r.headers['content-disposition']).toMatch(/^attachment; filename="coffer-web-backup-\d+-\d{8}T\d{6}Z\.zip"$/);

    const dir = path.join(api.dir, 'dl-check');
    fs.mkdirSync(dir);
    const zip = path.join(dir, 'b.zip');
    fs.writeFileSync(zip, r.body);
    expect(sh('unzip', ['-t', zip])).toContain('No errors detected');
    sh('unzip', ['-q', zip, '-d', path.join(dir, 'out')]);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8'));
    expect(m.metadata).toMatchObject({ instance: 'web', type: 'full', scope: 'full', label: 'l1', description: 'for the file', backup_id: Number(backupId.slice(7)), backup_time: b.backup_time, hostname: b.hostname, model: b.model, serial: b.serial, sw_version: b.sw_version, query_args: null, part_paths: { site: src } });
    expect(m.snapshot.paths).toEqual([src]);
    const files = m.files.filter((f: { type: string }) => f.type === 'file');
    expect(files.length).toBe(5);
    for (const f of files) {
      const data = fs.readFileSync(path.join(dir, 'out', f.path));
      expect(createHash('sha256').update(data).digest('hex')).toBe(f.sha256);
    }
    // The content is the tree as it was, at its absolute path below content/.
    expect(manifest(path.join(dir, 'out', 'content', src))).toEqual(manifest(src));
  });

  it('HEAD gives the exact Content-Length without reading the file, and leaves no repository lock', async () => {
    const b = (await api.call('GET', `/api/v1/backup/${backupId}`)).body;
    const r = await api.app.inject({ method: 'HEAD', url: `/api/v1/backup/${backupId}/file`, headers: { 'x-api-key': api.keys.backup_operator } });
    expect(r.statusCode).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(b.size);
    expect(r.rawPayload.length).toBe(0);
    await until('the download lock released', async () => fs.readdirSync(path.join(api.dir, 'data', 'repo', 'locks')).length === 0, 10_000, 20);
  });

  it('download: 404 for an unknown backup, 401 without a key, 409 while not successful', async () => {
    expect((await download('backup-999999')).status).toBe(404);
    expect((await api.app.inject({ method: 'GET', url: `/api/v1/backup/${backupId}/file` })).statusCode).toBe(401);
    const row = await api.core.catalog.backups.insert({
      instanceId: (await api.core.catalog.instances.byName('web'))!.id, repositoryId: 1, scope: 'full', type: 'full', label: null, description: null,
      status: 'running', hostname: 'h', model: 'm', serial: 's', swVersion: 'v', queryArgs: null, includeFiles: true, includeDatabase: true, createdBy: 'admin', scheduleId: null, extra: null,
    });
    const r = await download(String(row.id));
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body.toString()).message).toMatch(/running/);
    await api.core.catalog.backups.remove(row.id);
  });

  it('upload round trip: download → upload → restore into another instance gives the same bytes', async () => {
    const file = await download(backupId);
    const before = await backupCount();
    const up = await upload(file.body, '?instance=web');
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const orig = (await api.call('GET', `/api/v1/backup/${backupId}`)).body;
    // The file's label, description and time are its uploader's word: kept as information only (test/upload-trust.test.ts).
    expect(up.body).toMatchObject({
      instance: 'web', status: 'success', label: null, description: null, created_by: 'backup_operator', files: orig.files, uploaded: true,
      hostname: orig.hostname, model: orig.model, serial: orig.serial, sw_version: orig.sw_version,
    });
    expect(Date.parse(up.body.backup_time)).toBeGreaterThan(Date.parse(orig.backup_time));
    expect(up.body.id).not.toBe(backupId);
    expect(up.body.snapshot_id).not.toBe(orig.snapshot_id);
    expect(Number(await backupCount())).toBe(Number(before) + 1);
    // The snapshot keeps the original paths, not the staging directory's.
    const repo = await api.core.repositories.open(1);
    await repo.loadIndex();
    const snap = await repo.loadSnapshot(up.body.snapshot_id);
    expect(snap.paths).toEqual([src]);
    expect(snap.tags).toContain('uploaded');
    // Its own file is the same content again, of exactly its size.
    const again = await download(up.body.id);
    expect(again.status).toBe(200);
    expect(again.body.length).toBe(up.body.size);
    // Nothing left in the staging area.
    expect(fs.readdirSync(path.join(api.dir, 'data', 'uploads'))).toEqual([]);

    const copy = path.join(api.dir, 'copy');
    fs.mkdirSync(copy);
    await instance('copy', copy);
    const job = await api.call('POST', `/api/v1/backup/restore/${up.body.id}`, { body: { target: 'copy' } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    expect((await restoreDone(job.body.job_id)).status).toBe('completed');
    expect(manifest(copy)).toEqual(manifest(src));
    const audit = await api.call('GET', '/api/v1/audit?action=backup.upload');
    expect(audit.body.some((e: { target: string }) => e.target === `backup:${up.body.id.slice(7)}`)).toBe(true);
  }, 60_000);

  it('upload: the caller\'s label and description win; default instance device; roles; unknown instance', async () => {
    const file = (await download(backupId)).body;
    const up = await upload(file, '?label=mine&description=uploaded%20by%20hand', 'admin', 'application/zip');
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body).toMatchObject({ instance: 'device', label: 'mine', description: 'uploaded by hand', status: 'success' });
    expect((await upload(file, '', 'viewer')).status).toBe(403);
    const missing = await upload(file, '?instance=nope');
    expect(missing.status).toBe(404);
    // A media type that is not a file's.
    const r = await api.app.inject({ method: 'POST', url: '/api/v1/backup/upload', headers: { 'x-api-key': api.keys.admin, 'content-type': 'text/csv' }, payload: file });
    expect(r.statusCode).toBe(415);
  });

  it('uploads a dead process left (record untouched for 10 minutes, staging files) are cleared; live ones stay', async () => {
    const web = (await api.core.catalog.instances.byName('web'))!;
    const row = () => api.core.catalog.backups.insert({
      instanceId: web.id, repositoryId: web.repositoryId, scope: 'full', type: 'full', label: null, description: null, status: 'uploading',
      hostname: 'h', model: 'm', serial: 's', swVersion: 'v', queryArgs: null, includeFiles: true, includeDatabase: false, createdBy: 'admin', scheduleId: null, extra: null,
    });
    const dead = await row();
    const live = await row();
    await api.core.catalog.kysely.updateTable('backups').set({ updated_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', dead.id).execute();
    const uploads = path.join(api.dir, 'data', 'uploads');
    for (const b of [dead, live]) writeTree(path.join(uploads, `upload-${b.id}-0123456789ab`), { 'unpacked/content/x': 'x' });
    await api.core.backupFiles.sweepAbandonedUploads();
    expect(await api.core.catalog.backups.get(dead.id)).toBeUndefined();
    expect((await api.core.catalog.backups.get(live.id))?.status).toBe('uploading');
    expect(fs.readdirSync(uploads)).toEqual([`upload-${live.id}-0123456789ab`]);
    await api.core.catalog.backups.remove(live.id);
    fs.rmSync(path.join(uploads, `upload-${live.id}-0123456789ab`), { recursive: true });
  });

  describe('hostile files are refused with 400, leaving catalog, repository and disk as they were', () => {
    const sandbox = () => path.join(api.dir, 'hostile');
    const escapeMarker = () => path.join(api.dir, 'escaped');
    const zipOf = async (entries: TestZipEntry[], files: Parameters<typeof manifestText>[0], paths = ['/srv/x']) => {
      fs.mkdirSync(sandbox(), { recursive: true });
      const f = path.join(sandbox(), `z${Math.random().toString(36).slice(2)}.zip`);
      await buildZip(f, [...entries, { name: 'manifest.json', data: manifestText(files, { snapshot: { id: 'f'.repeat(64), time: '2024-01-02T03:04:05Z', hostname: 'h', paths, tags: [] }, layout: { content_dir: 'content', snapshot_root: '/' } }) }]);
      const buf = fs.readFileSync(f);
      fs.rmSync(f);
      return buf;
    };
    const dirs = [mfile('content', 'dir'), mfile('content/srv', 'dir'), mfile('content/srv/x', 'dir')];
    const cases: [string, () => Promise<Buffer>, RegExp][] = [
      ['zip slip (../)', () => zipOf([{ name: 'content/srv/x/../../../../../../escaped', data: 'pwned' }], [...dirs, mdata('content/srv/x/../../../../../../escaped', 'pwned')]), /unsafe-path/],
      ['zip slip (absolute path)', () => zipOf([{ name: path.join(api.dir, 'escaped'), data: 'pwned' }], [...dirs]), /unsafe-path/],
      ['a symlink pointing outside', () => zipOf([{ name: 'content/srv/x/link', kind: 'symlink', data: api.dir }], [...dirs, mfile('content/srv/x/link', 'symlink', { size: Buffer.byteLength(api.dir), target: api.dir })]), /symlink-escape/],
      ['a symlink climbing out', () => zipOf([{ name: 'content/srv/x/link', kind: 'symlink', data: '../../../..' }], [...dirs, mfile('content/srv/x/link', 'symlink', { size: 11, target: '../../../..' })]), /symlink-escape/],
      ['a zip bomb (high ratio)', () => zipOf([{ name: 'content/srv/x/zeros', stream: () => zeros(64 * 1024 * 1024), size: 64 * 1024 * 1024, compress: true }], [...dirs, mfile('content/srv/x/zeros', 'file', { size: 64 * 1024 * 1024, sha256: '0'.repeat(64) })]), /compression-ratio/],
      ['a wrong checksum in the manifest', () => zipOf([{ name: 'content/srv/x/a', data: 'alpha' }], [...dirs, { ...mdata('content/srv/x/a', 'alpha'), sha256: 'a'.repeat(64) }]), /checksum-mismatch/],
      ['a truncated file', async () => {
        const b = (await download(backupId)).body;
        return b.subarray(0, Math.floor(b.length * 0.6));
      }, /truncated|not-a-zip|corrupt/],
      ['a downloaded file with one content byte changed', async () => {
        const b = Buffer.from((await download(backupId)).body);
        const at = b.indexOf('<h1>hi</h1>');
        b[at + 1] = 'X'.charCodeAt(0);
        return b;
      }, /checksum-mismatch|corrupt/],
      ['not a zip', async () => Buffer.from('just some text, not a ZIP at all\n'.repeat(100)), /not-a-zip/],
      ['an empty body', async () => Buffer.alloc(0), /not-a-zip/],
      ['a ZIP without a manifest', async () => {
        const f = path.join(sandbox(), 'nomanifest.zip');
        fs.mkdirSync(sandbox(), { recursive: true });
        await buildZip(f, [{ name: 'a.txt', data: 'a' }]);
        const buf = fs.readFileSync(f);
        fs.rmSync(f);
        return buf;
      }, /manifest-missing/],
    ];
    for (const [name, make, reason] of cases) {
      it(name, async () => {
        const payload = await make();
        const backups = await backupCount();
        const snapshots = await snapshotCount();
        fs.mkdirSync(path.join(api.dir, 'data', 'uploads'), { recursive: true });
        const files = disk();
        const r = await upload(payload, '?instance=web');
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body).toMatchObject({ error: 'bad_request', field: 'body' });
        expect(r.body.message).toMatch(reason);
        expect(await backupCount()).toBe(backups);
        expect(await snapshotCount()).toBe(snapshots);
        expect(disk()).toEqual(files);
        expect(fs.existsSync(escapeMarker())).toBe(false);
      }, 60_000);
    }
  });
});

describe.each(catalogs)('backup file upload under quotas on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('an upload counts as a backup: past the instance\'s maximum it is 409 and nothing is stored', async () => {
    api = await startApi(cat, { limits: { maxBackupsPerInstance: 1 } });
    const src = path.join(api.dir, 'q');
    writeTree(src, { 'a.txt': 'a' });
    expect((await api.call('PUT', '/api/v1/instances/q', { body: { parts: [{ name: 'p', path: src }] } })).status).toBe(201);
    const created = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'q', type: 'full' } });
    await until('backup', async () => (await api.call('GET', `/api/v1/backup/${created.body.backup_id}`)).body.status === 'success' || undefined, 30_000, 50);
    const file = (await api.app.inject({ method: 'GET', url: `/api/v1/backup/${created.body.backup_id}/file`, headers: { 'x-api-key': api.keys.admin } })).rawPayload;
    const r = await api.app.inject({ method: 'POST', url: '/api/v1/backup/upload?instance=q', headers: { 'x-api-key': api.keys.admin, 'content-type': 'application/octet-stream' }, payload: file });
    expect(r.statusCode).toBe(409);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'quota_exceeded' });
    expect((await api.call('GET', '/api/v1/backup/list')).body.length).toBe(1);
    const repo = await api.core.repositories.open(1);
    expect((await repo.listSnapshots()).length).toBe(1);
    // Into another instance it is fine.
    const ok = await api.app.inject({ method: 'POST', url: '/api/v1/backup/upload', headers: { 'x-api-key': api.keys.admin, 'content-type': 'application/octet-stream' }, payload: file });
    expect(ok.statusCode, ok.body).toBe(201);
  }, 60_000);
});

/** The server process's resident memory in bytes (Linux), read while it works. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Samples a process's RSS every few milliseconds until stopped; the peak. */
function rssPeak(pid: number): () => number {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // the process ended
    }
  }, 20);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

describe.skipIf(process.platform !== 'linux')('backup files over real HTTP against coffer serve (a file of hundreds of MB)', () => {
  const SIZE = 320 * 1024 * 1024;
  /**
   * Streaming costs a bounded amount: a few prefetched blobs of up to 8 MiB, socket and stream
   * buffers, and the garbage collector's slack (about 130 MiB measured here). Holding the file
   * would cost at least SIZE; the bound sits between the two.
   */
  const BOUNDED = SIZE * 0.6;
  const MAX_UPLOAD = SIZE + 16 * 1024 * 1024;
  let dir: string;
  let server: ServerProcess;
  let call: ReturnType<typeof client>;
  let src: string;
  let backupId: string;
  const zip = () => path.join(dir, 'big.zip');

  beforeAll(async () => {
    dir = tempDir('coffer-bigfile-');
    src = path.join(dir, 'big-src');
    fs.mkdirSync(src);
    // Zeros: the repository stays small (one deduplicated chunk), the backup file does not.
    await pipeline(zeros(SIZE), fs.createWriteStream(path.join(src, 'big.bin')));
    fs.writeFileSync(path.join(src, 'small.txt'), 'small');
    server = await startServer(['--data-dir', path.join(dir, 'data'), '--max-upload-bytes', String(MAX_UPLOAD), '--engine-workers', '1']);
    call = client(server.url);
    for (const [name, p] of [['big', src], ['big-copy', path.join(dir, 'copy')]] as const) {
      expect((await call('PUT', `/api/v1/instances/${name}`, { parts: [{ name: 'files', path: p }] })).status).toBe(201);
    }
    const created = await call('POST', '/api/v1/backup/create', { instance: 'big', type: 'full' });
    expect(created.status).toBe(201);
    backupId = created.body.backup_id;
    const b = await until('big backup', async () => {
      const r = await call('GET', `/api/v1/backup/${backupId}`);
      return ['success', 'error'].includes(r.body.status) ? r.body : undefined;
    }, 170_000, 200);
    expect(b.status, b.status_info).toBe('success');
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('downloads it streaming: Content-Length exact, the server\'s memory far below the file\'s size', async () => {
    const pid = server.child.pid!;
    const base = rssOf(pid);
    const peak = rssPeak(pid);
    const res = await fetch(`${server.url}/api/v1/backup/${backupId}/file`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(res.status).toBe(200);
    const length = Number(res.headers.get('content-length'));
    await pipeline(res.body!, fs.createWriteStream(zip()));
    const grew = peak() - base;
    expect(fs.statSync(zip()).size).toBe(length);
    expect(length).toBeGreaterThan(SIZE);
    expect((await call('GET', `/api/v1/backup/${backupId}`)).body.size).toBe(length);
    expect(grew, `RSS grew by ${grew} bytes`).toBeLessThan(BOUNDED);
  }, 120_000);

  it('uploads it streaming (status uploading meanwhile), in bounded memory; it restores to the same bytes', async () => {
    const pid = server.child.pid!;
    const length = fs.statSync(zip()).size;
    const base = rssOf(pid);
    const peak = rssPeak(pid);
    const url = new URL(`${server.url}/api/v1/backup/upload?instance=big-copy`);
    const req = http.request(url, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/octet-stream', 'content-length': String(length) } });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    // Half of the file, then the list shows the backup as uploading, then the rest.
    const fd = fs.openSync(zip(), 'r');
    const half = Math.floor(length / 2);
    const piece = Buffer.alloc(1024 * 1024);
    const send = async (from: number, to: number) => {
      for (let at = from; at < to; at += piece.length) {
        const n = fs.readSync(fd, piece, 0, Math.min(piece.length, to - at), at);
        if (!req.write(Buffer.from(piece.subarray(0, n)))) await new Promise((r) => req.once('drain', r));
      }
    };
    await send(0, half);
    const listed = await until('an uploading backup in the list', async () => {
      const r = await call('GET', '/api/v1/backup/list?instance=big-copy');
      return r.body.find((b: { status: string }) => b.status === 'uploading');
    }, 30_000, 50);
    expect(listed.instance).toBe('big-copy');
    await send(half, length);
    fs.closeSync(fd);
    req.end();
    const r = await response;
    const grew = peak() - base;
    expect(r.status, r.body).toBe(201);
    const up = JSON.parse(r.body);
    expect(up).toMatchObject({ id: listed.id, instance: 'big-copy', status: 'success', files: 2 });
    expect(grew, `RSS grew by ${grew} bytes`).toBeLessThan(BOUNDED);
    expect(fs.readdirSync(path.join(dir, 'data', 'uploads'))).toEqual([]);

    // The upload's part paths are the original ones; a restore into the instance whose part has the same name puts the bytes back.
    const job = await call('POST', `/api/v1/backup/restore/${up.id}`, {});
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const done = await until('restore', async () => {
      const s = await call('GET', `/api/v1/backup/restore/${job.body.job_id}/status`);
      return s.body.status === 'running' ? undefined : s.body;
    }, 120_000, 200);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(manifest(path.join(dir, 'copy'))).toEqual(manifest(src));
  }, 180_000);

  it('an upload the client gives up halfway leaves no backup, no snapshot and no file behind', async () => {
    const length = fs.statSync(zip()).size;
    const successes = (await call('GET', '/api/v1/backup/list')).body.filter((b: { status: string }) => b.status === 'success').length;
    const req = http.request(new URL(`${server.url}/api/v1/backup/upload?instance=big-copy`), { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/octet-stream', 'content-length': String(length) } });
    req.on('error', () => undefined);
    const data = fs.createReadStream(zip(), { end: Math.floor(length / 3) });
    data.pipe(req, { end: false });
    const listed = await until('the upload listed', async () => {
      const r = await call('GET', '/api/v1/backup/list?instance=big-copy');
      return r.body.find((b: { status: string }) => b.status === 'uploading');
    }, 30_000, 50);
    await new Promise<void>((r) => data.once('end', () => r()));
    req.destroy();
    await until('the half upload removed', async () => (await call('GET', `/api/v1/backup/${listed.id}`)).status === 404 || undefined, 30_000, 100);
    expect((await call('GET', '/api/v1/backup/list')).body.filter((b: { status: string }) => b.status === 'success').length).toBe(successes);
    await until('the staging area empty', async () => fs.readdirSync(path.join(dir, 'data', 'uploads')).length === 0 || undefined, 10_000, 50);
  }, 60_000);

  it('refuses a body above max-upload-bytes with 400, leaving nothing behind', async () => {
    const before = (await call('GET', '/api/v1/backup/list')).body.length;
    const req = http.request(new URL(`${server.url}/api/v1/backup/upload`), { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/zip' } });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    // Chunked, so no Content-Length tells the server in advance: it counts.
    zeros(MAX_UPLOAD + 8 * 1024 * 1024).pipe(req);
    const r = await answer;
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).message).toMatch(/larger than the \d+ bytes this server accepts \(serve setting max-upload-bytes\)/);
    expect((await call('GET', '/api/v1/backup/list')).body.length).toBe(before);
    expect(fs.readdirSync(path.join(dir, 'data', 'uploads'))).toEqual([]);
  }, 120_000);
});
