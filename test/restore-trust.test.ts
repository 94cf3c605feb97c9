/**
 * Restores on the server that no role can turn against the host and no fault leaves half done, on
 * both catalogs: an uploaded file never chooses where a restore writes; `exact` (deleting what
 * the backup lacks) only for whole backups, whatever the surface asks; a restore waits for the
 * repository's lock like any reader; a restore of paths never writes through a link inside the
 * part; several parts land all together or not at all; a crashed restore's staging is removed at
 * the next start.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core, SYSTEM_ACTOR } from '../src/core/index.js';
import { RepoLock } from '../src/repo/index.js';
import { buildZip, manifestText, mdata, mfile } from '../src/repo/archive/testing.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { messagesLogger, tempDir } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

const read = (p: string) => fs.readFileSync(p, 'utf8');

describe.each(catalogs)('restores on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  const logs: string[] = [];

  const setParts = async (name: string, parts: Record<string, string>) => {
    const r = await api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: Object.entries(parts).map(([n, p]) => ({ name: n, kind: 'directory', path: p })) } });
    expect([200, 201], r.text).toContain(r.status);
  };
  const fullBackup = async (instance: string) => {
    const r = await api.call('POST', '/api/v1/backup/create', { as: 'backup_operator', body: { instance, type: 'full' } });
    expect(r.status, r.text).toBe(201);
    expect((await api.backupDone(r.body.backup_id)).status).toBe('success');
    return r.body.backup_id as string;
  };
  const startRestore = async (backupId: string, body: Record<string, unknown> = {}) => {
    const r = await api.call('POST', `/api/v1/backup/restore/${backupId}`, { body });
    expect(r.status, r.text).toBe(202);
    return r.body.job_id as string;
  };
  const restore = async (backupId: string, body: Record<string, unknown> = {}) => api.restoreDone(await startRestore(backupId, body), 60_000);

  beforeAll(async () => {
    api = await startApi(cat, { logger: messagesLogger(logs) });
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('H1: an uploaded file naming a victim directory as its part path: the restore writes nothing there', async () => {
    const victim = path.join(api.dir, 'victim', '.ssh');
    writeTree(victim, { authorized_keys: 'ssh-ed25519 AAAA legit-admin\n', known_hosts: 'host key\n' });
    const www = path.join(api.dir, 'h1-www');
    writeTree(www, { 'index.html': 'site' });
    await setParts('h1', { site: www });
    // A backup file made by hand, as a backup_operator can upload it: part `site` "was read from" the victim directory.
    const comps = victim.split('/').filter(Boolean);
    const dirs = comps.map((_, i) => mfile(`content/${comps.slice(0, i + 1).join('/')}`, 'dir'));
    const planted = `content/${comps.join('/')}/authorized_keys`;
    const zip = path.join(api.dir, 'forged.zip');
    await buildZip(zip, [{ name: planted, data: 'ssh-ed25519 AAAA attacker\n' }, {
      name: 'manifest.json',
      data: manifestText([mfile('content', 'dir'), ...dirs, mdata(planted, 'ssh-ed25519 AAAA attacker\n')], {
        snapshot: { id: 'e'.repeat(64), time: '2024-01-02T03:04:05Z', hostname: 'h', paths: [victim], tags: [] },
        metadata: { kind: 'coffer-instance-backup', part_paths: { site: victim } },
        layout: { content_dir: 'content', snapshot_root: '/' },
      }),
    }]);
    const up = await api.app.inject({ method: 'POST', url: '/api/v1/backup/upload?instance=h1', headers: { 'x-api-key': api.keys.backup_operator, 'content-type': 'application/zip' }, payload: fs.readFileSync(zip) });
    expect(up.statusCode, up.body).toBe(201);
    // The instance loses its part (as a factory reset does to `device`), then an admin restores the backup, exactly.
    await setParts('h1', {});
    const done = await restore(JSON.parse(up.body).id, { mode: 'exact' });
    expect(done.status).not.toBe('completed');
    expect(done.error).toMatch(/uploaded/);
    expect(read(path.join(victim, 'authorized_keys'))).toBe('ssh-ed25519 AAAA legit-admin\n');
    expect(read(path.join(victim, 'known_hosts'))).toBe('host key\n');
    expect(fs.readdirSync(path.dirname(victim)).sort()).toEqual(['.ssh']);
  }, 60_000);

  it('M4: a restore waits while another holds the repository\'s exclusive lock, and completes once it is released', async () => {
    const dir = path.join(api.dir, 'm4');
    writeTree(dir, { 'f.txt': 'backed up' });
    await setParts('m4', { site: dir });
    const id = await fullBackup('m4');
    fs.writeFileSync(path.join(dir, 'f.txt'), 'changed since');
    const repo = await api.core.repositories.open(1);
    const lock = await RepoLock.acquire(repo, true);
    let released = false;
    try {
      const job = await startRestore(id);
      await until('the restore to run', async () => (await api.call('GET', `/api/v1/backup/restore/${job}/status`)).body.status === 'running' || undefined, 30_000, 20);
      await sleep(1500);
      const meanwhile = await api.call('GET', `/api/v1/backup/restore/${job}/status`);
      expect(meanwhile.body.status).toBe('running');
      expect(read(path.join(dir, 'f.txt'))).toBe('changed since');
      await lock.release();
      released = true;
      expect((await api.restoreDone(job, 60_000)).status).toBe('completed');
      expect(read(path.join(dir, 'f.txt'))).toBe('backed up');
    } finally {
      if (!released) await lock.release();
    }
  }, 60_000);

  it('M9: a restore of a path whose middle component became a link writes below the part, not through the link', async () => {
    const www = path.join(api.dir, 'm9-www');
    const outside = path.join(api.dir, 'm9-outside');
    writeTree(www, { 'sub/s.txt': 's', 'sub/deeper/t.txt': 't' });
    await setParts('m9', { site: www });
    const id = await fullBackup('m9');
    writeTree(outside, { 's.txt': 'precious outside file', 'deeper/t.txt': 'precious too' });
    fs.rmSync(path.join(www, 'sub'), { recursive: true });
    fs.symlinkSync(outside, path.join(www, 'sub'));
    const done = await restore(id, { paths: ['site/sub/s.txt', 'site/sub/deeper/t.txt'] });
    expect(done.status, done.error).toBe('completed');
    expect(read(path.join(outside, 's.txt'))).toBe('precious outside file');
    expect(read(path.join(outside, 'deeper/t.txt'))).toBe('precious too');
    expect(fs.lstatSync(path.join(www, 'sub')).isDirectory()).toBe(true);
    expect(read(path.join(www, 'sub/s.txt'))).toBe('s');
    expect(read(path.join(www, 'sub/deeper/t.txt'))).toBe('t');
  }, 60_000);

  it('a restore of two parts whose second cannot be staged changes nothing of the first', async () => {
    const a = path.join(api.dir, 'duo-a');
    const b = path.join(api.dir, 'duo-base', 'b', 'data');
    writeTree(a, { 'x.txt': 'backed up' });
    writeTree(b, { 'y.txt': 'backed up' });
    await setParts('duo', { a, b });
    const id = await fullBackup('duo');
    fs.writeFileSync(path.join(a, 'x.txt'), 'changed since');
    // Where part b is to be staged (beside it) is now a plain file.
    fs.rmSync(path.dirname(b), { recursive: true });
    fs.writeFileSync(path.dirname(b), 'in the way');
    const done = await restore(id);
    expect(done.status).toBe('failed');
    expect(read(path.join(a, 'x.txt'))).toBe('changed since');
    expect(fs.readdirSync(path.dirname(a)).filter((e) => e.startsWith('.coffer-restore-'))).toEqual([]);
  }, 60_000);

  it('H3: Riverbed\'s restore of a partial backup (made through Syncano) puts back the selection and deletes nothing else', async () => {
    const dev = path.join(api.dir, 'dev');
    writeTree(dev, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'docs/d.txt': 'd' });
    await setParts('device', { files: dev });
    const partial = await api.call('POST', '/v1/instances/device/backups/partial/', { as: 'backup_operator', body: { label: 'only-a', query_args: { files: ['a.txt'] } } });
    expect(partial.status, partial.text).toBe(201);
    expect((await api.backupDone(String(partial.body.id))).status).toBe('success');
    fs.writeFileSync(path.join(dev, 'a.txt'), 'changed');
    const restartsBefore = logs.filter((m) => m.startsWith('services restarted')).length;
    const r = await api.call('POST', `/api/npm.backup/1.0/backups/items/${partial.body.id}/restore`);
    expect(r.status, r.text).toBe(202);
    const done = await until('the restore to end', async () => {
      const s = await api.call('GET', '/api/npm.backup/1.0/restore_status');
      return s.body.status === 'started' ? undefined : s.body;
    }, 60_000, 50);
    expect(done.status, done.status_message).toBe('completed');
    expect(read(path.join(dev, 'a.txt'))).toBe('a');
    for (const f of ['b.txt', 'c.txt', 'docs/d.txt']) expect(fs.existsSync(path.join(dev, f)), f).toBe(true);
    expect(done.status_message).toMatch(/merge/);
    // Coffer's configuration came back too: the services restart after it.
    await until('services restarted', async () => logs.filter((m) => m.startsWith('services restarted')).length > restartsBefore || undefined, 30_000, 20);
  }, 90_000);
});

describe.each(catalogs)('a restore interrupted by a crash on $name', (cat: CatalogUnderTest) => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('coffer-restore-crash-');
  });
  afterAll(async () => {
    await cat.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('L7: its staging directories are removed when the next process starts; others\' entries stay', async () => {
    const location = await cat.create(dir);
    const start = () => Core.start({ dataDir: path.join(dir, 'data'), catalog: location, engineWorkers: 0, jobConcurrency: 0, adminPassword: 'admin-password' });
    const www = path.join(dir, 'srv', 'www');
    writeTree(www, { 'index.html': 'site' });
    let core = await start();
    await core.instances.create(SYSTEM_ACTOR, { name: 'web', parts: [{ name: 'site', kind: 'directory', path: www }] });
    const instance = (await core.catalog.instances.byName('web'))!;
    const row = await core.catalog.backups.insert({
      instanceId: instance.id, repositoryId: 1, scope: 'full', type: 'full', label: null, description: null, status: 'running', hostname: 'h', model: 'm', serial: 's',
      swVersion: 'v', queryArgs: null, includeFiles: true, includeDatabase: true, createdBy: 'admin', scheduleId: null, extra: null,
    });
    await core.catalog.backups.update(row.id, { status: 'success', snapshotId: 'a'.repeat(64), extra: { part_paths: { site: www } } });
    const job = await core.backups.restore(SYSTEM_ACTOR, row.id, {});
    // As if a process of this host that has since died had claimed it and begun staging.
    await core.catalog.jobs.claim(`${hostname()}:999999999:x`);
    await core.stop();
    const parent = path.dirname(www);
    const staging = path.join(parent, `.coffer-restore-${job.id}-Ab3dE9`);
    writeTree(staging, { [`${www.slice(1)}/index.html`]: 'restored data' });
    const another = path.join(parent, `.coffer-restore-${job.id}0-Zz9yY8`);
    writeTree(another, { 'kept.txt': 'another job\'s' });
    const outside = path.join(dir, 'outside');
    writeTree(outside, { 'precious.txt': 'precious' });
    const link = path.join(parent, `.coffer-restore-${job.id}-Link01`);
    fs.symlinkSync(outside, link);
    // The configuration's own staging (a device restore puts Coffer's configuration back from there).
    const ownStaging = path.join(core.configuration.stateDir, `.restore-${job.id}`);
    writeTree(ownStaging, { 'coffer-configuration.json': '{}' });

    core = await start();
    try {
      expect((await core.jobs.get(SYSTEM_ACTOR, job.id)).state).toBe('failed');
      expect(fs.existsSync(staging)).toBe(false);
      expect(fs.existsSync(ownStaging)).toBe(false);
      expect(read(path.join(another, 'kept.txt'))).toBe('another job\'s');
      expect(read(path.join(outside, 'precious.txt'))).toBe('precious');
      expect(read(path.join(www, 'index.html'))).toBe('site');
    } finally {
      await core.stop();
    }
  }, 60_000);
});
