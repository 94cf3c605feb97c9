/**
 * The server end to end, as a real `coffer serve` process on loopback, on SQLite and PostgreSQL:
 * backups and restores of real trees, a schedule firing every 2 s with its retention, and crash
 * recovery (kill -9 in the middle of a backup, SIGTERM during one).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { ServerSecret } from '../src/core/secrets.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { coffer, manifest, tempDir } from './helpers.js';
import { type ServerProcess, client, startServer, until } from './server-process.js';

const catalogs = await catalogsUnderTest();

/** The default repository's password, as the server keeps it (sealed in the catalog under the secret). */
async function repoPassword(location: string, dataDir: string): Promise<string> {
  const cat = await Catalog.open(location);
  try {
    const rec = await cat.repositories.byName('default');
    return ServerSecret.loadOrCreate(path.join(dataDir, 'secret.key')).open(rec!.passwordSealed);
  } finally {
    await cat.close();
  }
}

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
}

describe.each(catalogs)('coffer serve on $name', (cat: CatalogUnderTest) => {
  let dir: string;
  let dataDir: string;
  let location: string;
  let server: ServerProcess;
  let api: ReturnType<typeof client>;

  const start = async () => {
    server = await startServer(['--data-dir', dataDir, '--catalog', location, '--jobs', '2']);
    api = client(server.url);
  };
  const backupDone = (id: string) => until(`backup ${id} to end`, async () => {
    const r = await api('GET', `/api/v1/backup/${id}`);
    return ['success', 'error'].includes(r.body?.status) ? r.body : undefined;
  }, 60_000);

  beforeAll(async () => {
    dir = tempDir('coffer-e2e-');
    dataDir = path.join(dir, 'data');
    location = await cat.create(dir);
    await start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await cat.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backs up an instance and restores it into another one', async () => {
    const src = path.join(dir, 'web');
    writeTree(src, { 'index.html': '<h1>hi</h1>', 'img/logo.bin': randomBytes(300_000), 'empty': '' });
    const staging = path.join(dir, 'staging');
    expect((await api('PUT', '/api/v1/instances/web', { parts: [{ name: 'site', kind: 'directory', path: src }] })).status).toBe(201);
    expect((await api('PUT', '/api/v1/instances/staging', { parts: [{ name: 'site', kind: 'directory', path: staging }] })).status).toBe(201);
    const created = await api('POST', '/api/v1/backup/create', { instance: 'web', type: 'full', label: 'first' });
    expect(created.status).toBe(201);
    const b = await backupDone(created.body.backup_id);
    expect(b.status).toBe('success');
    expect(b.files).toBe(3);

    const r = await api('POST', `/api/v1/backup/restore/${created.body.backup_id}`, { target: 'staging' });
    expect(r.status).toBe(202);
    const done = await until('restore to end', async () => {
      const s = await api('GET', `/api/v1/backup/restore/${r.body.job_id}/status`);
      return ['completed', 'completed_with_errors', 'failed'].includes(s.body?.status) ? s.body : undefined;
    });
    expect(done.status).toBe('completed');
    expect(manifest(staging)).toEqual(manifest(src));
  });

  it('fires a schedule every 2 s and its retention keeps what it should, and nothing else goes', async () => {
    const src = path.join(dir, 'sched');
    writeTree(src, { 'a.txt': 'a' });
    expect((await api('PUT', '/api/v1/instances/sched', { parts: [{ name: 'files', kind: 'directory', path: src }] })).status).toBe(201);
    const web = await api('GET', '/api/v1/backup/list?instance=web');
    const s = await api('POST', '/api/v1/backup/schedule', { instance: 'sched', cron: '*/2 * * * * *', type: 'incremental', keep_last: 2 });
    expect(s.status).toBe(201);
    const scheduleId = s.body.id ?? s.body.schedule_id;
    // Change a file between runs so that the snapshots differ.
    const ticker = setInterval(() => fs.writeFileSync(path.join(src, 'a.txt'), String(Date.now())), 700);
    try {
      await until('four scheduled backups', async () => {
        const l = await api('GET', '/api/v1/jobs?kind=retention&state=success');
        return Number(l.headers.get('x-total-count') ?? l.body.length) >= 3 || undefined;
      }, 40_000, 250);
    } finally {
      clearInterval(ticker);
    }
    expect((await api('PUT', `/api/v1/backup/schedule/${scheduleId}`, { enabled: false })).status).toBe(200);
    await until('the queue to drain', async () => {
      for (const state of ['scheduled', 'running']) {
        const l = await api('GET', `/api/v1/jobs?state=${state}`);
        if (Number(l.headers.get('x-total-count')) > 0) return undefined;
      }
      return true;
    }, 30_000, 250);
    const kept = await api('GET', '/api/v1/backup/list?instance=sched&status=success');
    expect(kept.body).toHaveLength(2);
    // Another instance's backups are untouched.
    expect((await api('GET', '/api/v1/backup/list?instance=web')).body).toEqual(web.body);
    // The repository holds exactly the snapshots the catalog lists.
    const pw = await repoPassword(location, dataDir);
    const snaps = coffer(['snapshots', '--json', '-r', path.join(dataDir, 'repo')], { env: { COFFER_PASSWORD: pw } });
    expect(snaps.code).toBe(0);
    const ids = (JSON.parse(snaps.stdout) as { id: string; tags?: string[] }[]).filter((x) => x.tags?.includes('instance:sched')).map((x) => x.id).sort();
    expect(ids).toEqual(kept.body.map((b: { snapshot_id: string }) => b.snapshot_id).sort());
  }, 90_000);

  it('after kill -9 in the middle of a backup, restarts and retries the job to success, the repository clean', async () => {
    const src = path.join(dir, 'big');
    for (let i = 0; i < 6; i++) writeTree(src, { [`f${i}.bin`]: randomBytes(40 * 1024 * 1024) });
    expect((await api('PUT', '/api/v1/instances/big', { parts: [{ name: 'data', kind: 'directory', path: src }] })).status).toBe(201);
    const created = await api('POST', '/api/v1/backup/create', { instance: 'big', type: 'full' });
    expect(created.status).toBe(201);
    const id = created.body.backup_id;
    await until('the backup to be under way', async () => {
      const j = await api('GET', `/api/v1/jobs/${created.body.job_id}`);
      return (j.body?.progress?.bytes_done ?? 0) > 0 || undefined;
    }, 30_000, 20);
    expect(await server.stop('SIGKILL')).toBe('SIGKILL');

    await start();
    // The orphaned job is queued again and its second attempt completes the backup.
    const after = await backupDone(id);
    expect(after.status, after.status_info).toBe('success');
    const job = await api('GET', `/api/v1/jobs/${created.body.job_id}`);
    expect(job.body.state).toBe('success');
    expect(job.body.attempts).toBe(2);
    expect(job.body.attempt_errors).toEqual([expect.stringMatching(/interrupted/)]);

    const pw = await repoPassword(location, dataDir);
    const check = coffer(['check', '-r', path.join(dataDir, 'repo')], { env: { COFFER_PASSWORD: pw } });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 120_000);

  it('SIGTERM interrupts a running backup, records why, and exits cleanly', async () => {
    // New data, so that the backup takes long enough to be interrupted.
    const src = path.join(dir, 'big');
    for (let i = 0; i < 6; i++) writeTree(src, { [`f${i}.bin`]: randomBytes(40 * 1024 * 1024) });
    const created = await api('POST', '/api/v1/backup/create', { instance: 'big', type: 'full' });
    await until('the backup to be under way', async () => {
      const j = await api('GET', `/api/v1/jobs/${created.body.job_id}`);
      return (j.body?.progress?.bytes_done ?? 0) > 0 || undefined;
    }, 30_000, 20);
    expect(await server.stop('SIGTERM')).toBe(0);
    await start();
    const after = await api('GET', `/api/v1/backup/${created.body.backup_id}`);
    expect(after.body.status).toBe('error');
    expect(after.body.status_info).toMatch(/shut down/);
  }, 120_000);
});
