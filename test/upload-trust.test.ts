/**
 * What an uploaded backup file may and may not decide, on SQLite and PostgreSQL: its claims (time,
 * host, label, paths) are kept as information only and every surface marks the backup as uploaded;
 * retention leaves uploads out; zip bombs that stay under the per-entry ratio, symlinks that leave
 * their part, bodies that stop arriving and uploads beyond the server's share are refused, leaving
 * nothing behind; what a crash left is cleared when the next process starts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core, SYSTEM_ACTOR, isUploaded } from '../src/core/index.js';
import { checkFreeSpace } from '../src/core/upload-limits.js';
import { type TestZipEntry, buildZip, manifestText, mdata, mfile, sha256 } from '../src/repo/archive/testing.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

interface ForgedFile {
  /** The snapshot's one path (absolute). */
  root: string;
  files?: Record<string, string | Buffer>;
  symlinks?: Record<string, string>;
  time?: string;
  metadata?: Record<string, unknown>;
  /** Extra entries (already in the ZIP's own names, below content/) with their manifest items. */
  extra?: { entries: TestZipEntry[]; items: ReturnType<typeof mfile>[] };
}

/** A valid backup file, as an uploader can write one by hand: every claim is the uploader's. */
async function forgedBackup(dir: string, f: ForgedFile): Promise<Buffer> {
  const at = (rel: string) => `content${f.root}/${rel}`;
  const dirs = new Set<string>(['content']);
  const addDirs = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  };
  addDirs(`content${f.root}`);
  const entries: TestZipEntry[] = [];
  const items: ReturnType<typeof mfile>[] = [];
  for (const [rel, data] of Object.entries(f.files ?? {})) {
    addDirs(path.posix.dirname(at(rel)));
    entries.push({ name: at(rel), data });
    items.push(mdata(at(rel), data));
  }
  for (const [rel, target] of Object.entries(f.symlinks ?? {})) {
    addDirs(path.posix.dirname(at(rel)));
    entries.push({ name: at(rel), kind: 'symlink', data: target });
    items.push(mfile(at(rel), 'symlink', { size: Buffer.byteLength(target), target }));
  }
  const all = [...[...dirs].sort().map((d) => mfile(d, 'dir')), ...items, ...(f.extra?.items ?? [])];
  const file = path.join(dir, `forged-${Math.random().toString(36).slice(2)}.zip`);
  await buildZip(file, [...entries, ...(f.extra?.entries ?? []), {
    name: 'manifest.json',
    data: manifestText(all, {
      snapshot: { id: 'e'.repeat(64), time: f.time ?? '2024-01-02T03:04:05Z', hostname: 'vm', paths: [f.root], tags: [] },
      metadata: { kind: 'coffer-instance-backup', ...f.metadata } as never,
      layout: { content_dir: 'content', snapshot_root: '/' },
    }),
  }]);
  const buf = fs.readFileSync(file);
  fs.rmSync(file);
  return buf;
}

describe.each(catalogs)('uploaded backups on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let src: string;
  let work: string;
  const uploadsDir = () => path.join(api.dir, 'data', 'uploads');

  const upload = async (payload: Buffer | PassThrough, query = '?instance=web', as: 'admin' | 'backup_operator' = 'backup_operator') => {
    const r = await api.app.inject({ method: 'POST', url: `/api/v1/backup/upload${query}`, headers: { 'x-api-key': api.keys[as], 'content-type': 'application/zip' }, payload });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null };
  };
  const makeBackup = async (instance: string) => {
    const r = await api.call('POST', '/api/v1/backup/create', { body: { instance, type: 'full' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const done = await api.backupDone(r.body.backup_id);
    expect(done.status).toBe('success');
    return done;
  };
  const number = (id: string) => Number(id.replace(/^backup-/, ''));
  const listOf = async (instance: string) => (await api.call('GET', `/api/v1/backup/list?instance=${instance}&limit=100`)).body as { id: string; status: string; uploaded: boolean }[];

  beforeAll(async () => {
    api = await startApi(cat, { uploadIdleMs: 700, maxConcurrentUploads: 1 });
    work = path.join(api.dir, 'work');
    fs.mkdirSync(work);
    src = path.join(api.dir, 'web');
    writeTree(src, { 'index.html': '<h1>genuine</h1>', 'sub/a.txt': 'a' });
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', path: src }] } })).status).toBe(201);
    const dev = path.join(api.dir, 'dev');
    writeTree(dev, { 'a.txt': 'a', 'b.txt': 'b' });
    expect((await api.call('PUT', '/api/v1/instances/device', { body: { parts: [{ name: 'files', path: dev }] } })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('H1/H2: an upload is dated by its arrival, labelled by the request only, and keeps the file\'s claims under extra.uploaded', async () => {
    const genuine = await makeBackup('web');
    const victim = path.join(api.dir, 'victim', '.ssh');
    const forged = await forgedBackup(work, {
      root: victim, time: '2027-01-02T02:00:00Z', files: { authorized_keys: 'ssh-ed25519 AAAA attacker\n' },
      metadata: {
        label: 'nightly', description: 'scheduled nightly backup', hostname: 'vm', model: 'forged-model', serial: 'forged-serial', sw_version: '99.0',
        instance: 'web', backup_id: 7, part_paths: { site: victim }, kanto_correlation_id: 'b-keep',
      },
    });
    const before = Date.now();
    const up = await upload(forged);
    const after = Date.now();
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const time = Date.parse(up.body.backup_time);
    expect(time).toBeGreaterThanOrEqual(before - 1000);
    expect(time).toBeLessThanOrEqual(after + 1000);
    expect(up.body).toMatchObject({
      label: null, description: null, uploaded: true,
      hostname: genuine.hostname, model: genuine.model, serial: genuine.serial, sw_version: genuine.sw_version,
    });
    // The snapshot is dated by the upload too: restic's own listing cannot be fooled either.
    const repo = await api.core.repositories.open(1);
    await repo.loadIndex();
    expect(Math.abs(Date.parse((await repo.loadSnapshot(up.body.snapshot_id)).time) - time)).toBeLessThan(1000);

    const record = (await api.core.catalog.backups.get(number(up.body.id)))!;
    expect(isUploaded(record)).toBe(true);
    expect(record.extra?.['kanto_correlation_id']).toBeUndefined();
    expect(record.extra?.['uploaded']).toMatchObject({
      snapshot_time: '2027-01-02T02:00:00Z', hostname: 'vm', model: 'forged-model', serial: 'forged-serial', sw_version: '99.0',
      label: 'nightly', description: 'scheduled nightly backup', instance: 'web', part_paths: { site: victim },
    });
    expect((await api.call('GET', `/api/v1/backup/${genuine.id}`)).body.uploaded).toBe(false);

    const named = await upload(forged, '?instance=web&label=mine&description=by%20hand');
    expect(named.status, JSON.stringify(named.body)).toBe(201);
    expect(named.body).toMatchObject({ label: 'mine', description: 'by hand', uploaded: true });
    // An upload of a file Coffer wrote is an upload all the same.
    const own = await api.app.inject({ method: 'GET', url: `/api/v1/backup/${genuine.id}/file`, headers: { 'x-api-key': api.keys.admin } });
    const again = await upload(own.rawPayload);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body).toMatchObject({ uploaded: true, label: null });
    expect((await api.core.catalog.backups.get(number(again.body.id)))!.extra?.['uploaded']).toMatchObject({ backup_id: number(genuine.id), instance: 'web' });
  }, 60_000);

  it('every surface marks uploads: native, Riverbed (with partial), Syncano', async () => {
    const base = '/api/npm.backup/1.0';
    const made = await api.call('POST', `${base}/backups`, { body: { description: 'genuine' } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await until('the Riverbed backup', async () => (await api.call('GET', `${base}/backups/items/${made.body.id}`)).body.status === 'completed' || undefined, 30_000, 50);
    const partial = await api.call('POST', '/v1/instances/device/backups/partial/', { body: { label: 'only-a', query_args: { files: ['a.txt'] } } });
    expect(partial.status, JSON.stringify(partial.body)).toBe(201);
    await api.backupDone(`backup-${partial.body.id}`);

    const forged = await forgedBackup(work, { root: path.join(api.dir, 'dev'), files: { 'a.txt': 'planted' }, metadata: { label: 'x' } });
    const r = await api.app.inject({ method: 'POST', url: `${base}/backups/upload`, headers: { 'x-api-key': api.keys.backup_operator, 'content-type': 'application/octet-stream' }, payload: forged });
    expect(r.statusCode, r.body).toBe(201);
    const up = JSON.parse(r.body);
    expect(up).toMatchObject({ uploaded: true, partial: false });

    const items = (await api.call('GET', `${base}/backups`)).body.items as { id: string; uploaded: boolean; partial: boolean }[];
    expect(items.find((b) => b.id === up.id)).toMatchObject({ uploaded: true, partial: false });
    expect(items.find((b) => b.id === made.body.id)).toMatchObject({ uploaded: false, partial: false });
    expect(items.find((b) => b.id === String(partial.body.id))).toMatchObject({ uploaded: false, partial: true });

    expect((await api.call('GET', `/api/v1/backup/backup-${up.id}`)).body.uploaded).toBe(true);
    expect((await api.call('GET', `/v1/backups/full/${up.id}/`)).body.uploaded).toBe(true);
    expect((await api.call('GET', `/v1/backups/full/${made.body.id}/`)).body.uploaded).toBe(false);
    expect((await api.call('GET', `/v1/backups/partial/${partial.body.id}/`)).body.uploaded).toBe(false);
  }, 60_000);

  it('H2: retention leaves uploads out: two uploads dated in the future and keep_last 2 leave the genuine backups', async () => {
    const inst = path.join(api.dir, 'ret');
    writeTree(inst, { 'a.txt': 'genuine' });
    expect((await api.call('PUT', '/api/v1/instances/ret', { body: { parts: [{ name: 'site', path: inst }] } })).status).toBe(201);
    const first = await makeBackup('ret');
    const second = await makeBackup('ret');
    const forged: string[] = [];
    for (const time of ['2027-01-01T00:00:00Z', '2027-01-03T00:00:00Z']) {
      const up = await upload(await forgedBackup(work, { root: inst, time, files: { 'a.txt': 'forged' }, metadata: { label: 'nightly' } }), '?instance=ret');
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      forged.push(up.body.id);
    }
    const s = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'ret', cron: '*/2 * * * * *', type: 'full', keep_last: 2 } });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    try {
      await until('a retention run', async () => {
        const jobs = (await api.call('GET', '/api/v1/jobs?kind=retention&state=success')).body as { instance: string }[];
        return jobs.some((j) => j.instance === 'ret') || undefined;
      }, 60_000, 200);
    } finally {
      await api.call('DELETE', `/api/v1/backup/schedule/${s.body.id}`);
    }
    const left = (await listOf('ret')).filter((b) => b.status === 'success');
    // The uploads are not counted: two genuine backups are kept (the scheduled one and the newest before it).
    expect(left.filter((b) => b.uploaded).map((b) => b.id).sort()).toEqual([...forged].sort());
    const genuine = left.filter((b) => !b.uploaded).map((b) => b.id);
    expect(genuine.length).toBe(2);
    expect(genuine).not.toContain(first.id);
    expect(Math.max(...genuine.map(number))).toBeGreaterThan(number(second.id));
  }, 90_000);

  it('retention counts uploads only when its schedule says retention_includes_uploaded', async () => {
    const inst = path.join(api.dir, 'ret2');
    writeTree(inst, { 'a.txt': 'genuine' });
    expect((await api.call('PUT', '/api/v1/instances/ret2', { body: { parts: [{ name: 'site', path: inst }] } })).status).toBe(201);
    await makeBackup('ret2');
    const up = await upload(await forgedBackup(work, { root: inst, files: { 'a.txt': 'uploaded' } }), '?instance=ret2');
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const s = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'ret2', cron: '*/2 * * * * *', type: 'full', keep_last: 1, retention_includes_uploaded: true } });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    expect(s.body.retention_includes_uploaded).toBe(true);
    expect((await api.call('GET', `/api/v1/backup/schedule/${s.body.id}`)).body.retention_includes_uploaded).toBe(true);
    try {
      await until('the upload forgotten', async () => !(await listOf('ret2')).some((b) => b.id === up.body.id) || undefined, 60_000, 200);
    } finally {
      await api.call('DELETE', `/api/v1/backup/schedule/${s.body.id}`);
    }
    const off = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'ret2', cron: '0 0 1 1 *' } });
    expect(off.body.retention_includes_uploaded).toBe(false);
    expect((await api.call('PUT', `/api/v1/backup/schedule/${off.body.id}`, { body: { retention_includes_uploaded: 'yes' } })).status).toBe(400);
    await api.call('DELETE', `/api/v1/backup/schedule/${off.body.id}`);
  }, 90_000);

  it('M5: 600 entries of 1 MiB of zeros (each under the per-entry ratio) are refused, nothing left in the uploads directory', async () => {
    const MiB = 1024 * 1024;
    const zero = Buffer.alloc(MiB);
    const entries: TestZipEntry[] = [];
    const items: ReturnType<typeof mfile>[] = [];
    for (let i = 0; i < 600; i++) {
      entries.push({ name: `content${src}/bomb/z${i}`, data: zero, compress: true });
      items.push(mfile(`content${src}/bomb/z${i}`, 'file', { size: MiB, sha256: sha256(zero) }));
    }
    const bomb = await forgedBackup(work, { root: src, files: { 'index.html': 'x' }, extra: { entries, items: [mfile(`content${src}/bomb`, 'dir'), ...items] } });
    expect(bomb.length).toBeLessThan(2 * MiB);
    const before = (await listOf('web')).length;
    const r = await upload(bomb);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.message).toMatch(/compression-ratio/);
    expect(r.body.message).toMatch(/times its own size/);
    expect(fs.readdirSync(uploadsDir())).toEqual([]);
    expect((await listOf('web')).length).toBe(before);
  }, 120_000);

  it('M5: free space is checked before unpacking', async () => {
    const err = await checkFreeSpace(uploadsDir(), 2 ** 62).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'unavailable' });
    expect((err as Error).message).toMatch(/free/);
    await expect(checkFreeSpace(uploadsDir(), 1024)).resolves.toBeUndefined();
  });

  it('M5: uploads beyond the server\'s share wait their turn: 503 with a retry time, nothing kept', async () => {
    const slow = new PassThrough();
    const first = upload(slow);
    const under = await until('the first upload under way', async () => (await listOf('web')).find((b) => b.status === 'uploading'), 10_000, 20);
    // Marked from the start: an upload never passes for a backup Coffer made, not even while it arrives.
    expect(under.uploaded).toBe(true);
    const second = await upload(await forgedBackup(work, { root: src, files: { 'a.txt': 'a' } }));
    expect(second.status, JSON.stringify(second.body)).toBe(503);
    expect(second.body.message).toMatch(/uploads at once/);
    slow.end(Buffer.from('not a zip'));
    expect((await first).status).toBe(400);
    expect(fs.readdirSync(uploadsDir())).toEqual([]);
    // The slot is free again.
    expect((await upload(await forgedBackup(work, { root: src, files: { 'a.txt': 'a' } }))).status).toBe(201);
  }, 30_000);

  it('a body that stops arriving is abandoned after the idle time, with a clear error and nothing left', async () => {
    const slow = new PassThrough();
    slow.write(Buffer.alloc(1000));
    const before = (await listOf('web')).length;
    const r = await upload(slow);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body).toMatchObject({ field: 'body' });
    expect(r.body.message).toMatch(/no data arrived for 0\.7 s/);
    slow.destroy();
    expect(fs.readdirSync(uploadsDir())).toEqual([]);
    expect((await listOf('web')).length).toBe(before);
  }, 30_000);

  it('Suspicion 2: a relative symlink that leaves its part is refused, one inside the part is kept', async () => {
    const www = path.join(api.dir, 'srv', 'www');
    for (const target of ['../../../../etc', '../other', 'sub/../../x']) {
      const r = await upload(await forgedBackup(work, { root: www, files: { 'sub/a.txt': 'a' }, symlinks: { l: target } }));
      expect(r.status, `${target}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.message).toMatch(/symlink-escape/);
      expect(r.body.message).toMatch(/outside its part/);
    }
    expect(fs.readdirSync(uploadsDir())).toEqual([]);
    const ok = await upload(await forgedBackup(work, { root: www, files: { 'sub/a.txt': 'a' }, symlinks: { l: 'sub/a.txt', 'sub/up': '../sub/a.txt' } }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  }, 60_000);
});

describe.each(catalogs)('uploads a crash left, at the next start, on $name', (cat: CatalogUnderTest) => {
  afterAll(async () => {
    await cat.cleanup();
  });

  it('a backup still being uploaded cannot be deleted from under its upload (409), so its staging is never swept mid-way', async () => {
    const dir = tempDir('coffer-upload-delete-');
    const opts = { dataDir: path.join(dir, 'data'), catalog: await cat.create(dir), adminPassword: 'admin-password-x', jobConcurrency: 0, engineWorkers: 0 };
    const core = await Core.start(opts);
    try {
      const live = await core.backups.insertUploading(SYSTEM_ACTOR, { instance: 'device' });
      await expect(core.backups.remove(SYSTEM_ACTOR, live.id)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/being uploaded/) });
      expect((await core.catalog.backups.get(live.id))?.status).toBe('uploading');
    } finally {
      await core.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a catalog of its own every `uploading` record and work directory goes at once; a shared one keeps the heartbeat rule', async () => {
    const dir = tempDir('coffer-upload-start-');
    const opts = { dataDir: path.join(dir, 'data'), catalog: await cat.create(dir), adminPassword: 'admin-password-x', jobConcurrency: 0, engineWorkers: 0 };
    try {
      const first = await Core.start(opts);
      const crashed = await first.backups.insertUploading(SYSTEM_ACTOR, { instance: 'device' });
      const work = path.join(opts.dataDir, 'uploads', `upload-${crashed.id}-0123456789ab`);
      writeTree(work, { 'upload.zip': 'partial', 'unpacked/content/x': 'x' });
      await first.stop();

      const next = await Core.start(opts);
      try {
        const record = await next.catalog.backups.get(crashed.id);
        if (cat.name === 'sqlite') {
          expect(record).toBeUndefined();
          expect(fs.readdirSync(path.join(opts.dataDir, 'uploads'))).toEqual([]);
        } else {
          // Another process may be uploading it: a fresh heartbeat keeps it.
          expect(record?.status).toBe('uploading');
          expect(fs.existsSync(work)).toBe(true);
          await next.catalog.backups.remove(crashed.id);
        }
      } finally {
        await next.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
