/**
 * Core's rules on both catalogs, without HTTP: quotas, one restore per instance (even when asked
 * at the same moment), the scheduler (missed runs, overlapping runs, one firing across processes),
 * retention, cancellation and orphaned jobs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { type Actor, Core, CoreError, SILENT_LOGGER, SYSTEM_ACTOR } from '../src/core/index.js';
import { Scheduler } from '../src/core/scheduler.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

const operator: Actor = { name: 'op', role: 'backup_operator' };
const viewer: Actor = { name: 'v', role: 'viewer' };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof CoreError) return err.code;
    throw err;
  }
}

describe.each(catalogs)('core on $name', (cat: CatalogUnderTest) => {
  let dir: string;
  let cores: Core[] = [];
  let location: string;

  const startCore = async (o: Partial<Parameters<typeof Core.start>[0]> = {}) => {
    const c = await Core.start({ dataDir: path.join(dir, 'data'), catalog: location, engineWorkers: 0, jobConcurrency: 1, adminPassword: 'admin-password', ...o });
    cores.push(c);
    return c;
  };
  const jobEnd = (core: Core, id: number) => until(`job ${id}`, async () => {
    const j = await core.jobs.get(SYSTEM_ACTOR, id);
    return ['scheduled', 'running', 'uploading'].includes(j.state) ? undefined : j;
  }, 30_000, 50);

  beforeAll(() => {
    dir = tempDir('coffer-core-');
  });
  afterEach(async () => {
    for (const c of cores.splice(0)) await c.stop().catch(() => {});
    await cat.cleanup();
    fs.rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const setUp = async (o: Partial<Parameters<typeof Core.start>[0]> = {}) => {
    location = await cat.create(dir);
    const core = await startCore(o);
    const src = path.join(dir, 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'f.txt'), 'content');
    await core.instances.create(SYSTEM_ACTOR, { name: 'app', parts: [{ name: 'files', kind: 'directory', path: src }] });
    await core.instances.create(SYSTEM_ACTOR, { name: 'other', parts: [{ name: 'files', kind: 'directory', path: path.join(dir, 'other') }] });
    return core;
  };

  it('enforces roles: viewers read, operators back up, only admins restore and delete', async () => {
    const core = await setUp();
    expect(await codeOf(core.backups.create(viewer, { instance: 'app' }))).toBe('forbidden');
    const { backup, job } = await core.backups.create(operator, { instance: 'app' });
    await jobEnd(core, job.id);
    expect(await codeOf(core.backups.list(viewer, { limit: 10, offset: 0 }))).toBe('ok');
    expect(await codeOf(core.backups.restore(operator, backup.id, {}))).toBe('forbidden');
    expect(await codeOf(core.backups.remove(operator, backup.id))).toBe('forbidden');
    expect(await codeOf(core.schedules.create(operator, { cron: '0 2 * * *' }))).toBe('forbidden');
    expect(await codeOf(core.auth.listUsers(operator))).toBe('forbidden');
  });

  it('validates input and names the field at fault', async () => {
    const core = await setUp();
    const err = await core.backups.create(SYSTEM_ACTOR, { instance: 'app', type: 'weekly' }).catch((e: CoreError) => e);
    expect(err).toMatchObject({ code: 'invalid', field: 'type' });
    expect(await core.backups.create(SYSTEM_ACTOR, { instance: 'nope' }).catch((e: CoreError) => e.code)).toBe('not_found');
    expect(await core.schedules.create(SYSTEM_ACTOR, { cron: 'every day' }).catch((e: CoreError) => e.field)).toBe('cron');
    expect(await core.schedules.create(SYSTEM_ACTOR, { cron: '* * * * *', timezone: 'Mars/Olympus' }).catch((e: CoreError) => e.field)).toBe('timezone');
    expect(await core.instances.create(SYSTEM_ACTOR, { name: 'x', parts: [{ name: 'p', kind: 'directory', path: 'relative' }] }).catch((e: CoreError) => e.field)).toBe('parts[0].path');
  });

  it('limits backups per instance and per account, counted in the catalog', async () => {
    const core = await setUp({ limits: { maxBackupsPerInstance: 2, maxBackupsPerAccount: 3 } });
    const results = await Promise.all([1, 2, 3].map(() => codeOf(core.backups.create(operator, { instance: 'app' }))));
    expect(results.sort()).toEqual(['ok', 'ok', 'quota_exceeded']);
    expect(await codeOf(core.backups.create(operator, { instance: 'other' }))).toBe('ok');
    expect(await codeOf(core.backups.create(operator, { instance: 'other' }))).toBe('quota_exceeded'); // the account's 4th
    // Coffer's own actors (schedules, the MQTT device) have no account quota; the instance's still holds.
    const device = { name: 'mqtt:demo:device', role: 'admin' as const, service: true };
    for (const name of ['third', 'fourth']) {
      await core.instances.create(SYSTEM_ACTOR, { name, parts: [{ name: 'files', kind: 'directory', path: path.join(dir, name) }] });
      for (let i = 0; i < 2; i++) expect(await codeOf(core.backups.create(device, { instance: name }))).toBe('ok');
    }
    expect(await codeOf(core.backups.create(SYSTEM_ACTOR, { instance: 'third' }))).toBe('quota_exceeded'); // the instance's 3rd
  });

  const admin: Actor = { name: 'root', role: 'admin' };
  it('does not hold admins to the account quota by default', async () => {
    const core = await setUp({ limits: { maxBackupsPerAccount: 1 } });
    for (let i = 0; i < 2; i++) expect(await codeOf(core.backups.create(admin, { instance: 'app' }))).toBe('ok');
    expect(await codeOf(core.backups.create(operator, { instance: 'app' }))).toBe('ok');
    expect(await codeOf(core.backups.create(operator, { instance: 'app' }))).toBe('quota_exceeded');
  });

  it('holds admins to the account quota when quotaIncludesAdmins is set', async () => {
    const core = await setUp({ limits: { maxBackupsPerAccount: 1, quotaIncludesAdmins: true } });
    expect(await codeOf(core.backups.create(admin, { instance: 'app' }))).toBe('ok');
    expect(await codeOf(core.backups.create(admin, { instance: 'app' }))).toBe('quota_exceeded');
  });

  it('runs one restore per instance: of two at the same moment, exactly one is accepted', async () => {
    const core = await setUp();
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    expect((await jobEnd(core, job.id)).state).toBe('success');
    const two = await Promise.all([1, 2].map(() => codeOf(core.backups.restore(SYSTEM_ACTOR, backup.id, { target: 'other' }))));
    expect(two.sort()).toEqual(['conflict', 'ok']);
  });

  it('cancels a queued job; a canceled job cannot be canceled again', async () => {
    const core = await setUp({ jobConcurrency: 0 });
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    const canceled = await core.jobs.cancel(SYSTEM_ACTOR, job.id);
    expect(canceled.state).toBe('error');
    expect((await core.backups.get(SYSTEM_ACTOR, backup.id)).status).toBe('error');
    expect(await codeOf(core.jobs.cancel(SYSTEM_ACTOR, job.id))).toBe('conflict');
  });

  it('deletes a backup: its snapshot leaves the repository and its record the catalog', async () => {
    const core = await setUp();
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    expect((await jobEnd(core, job.id)).state).toBe('success');
    const snapshotId = (await core.backups.get(SYSTEM_ACTOR, backup.id)).snapshotId;
    const repo = await core.repositories.open(backup.repositoryId);
    expect((await repo.listSnapshots()).map((s) => s.id)).toEqual([snapshotId]);
    await core.backups.remove(SYSTEM_ACTOR, backup.id);
    expect(await repo.listSnapshots()).toEqual([]);
    expect(await codeOf(core.backups.get(SYSTEM_ACTOR, backup.id))).toBe('not_found');
  });

  it('a backup turns successful together with its job\'s end: deleting it at that moment is never refused as in use', async () => {
    const core = await setUp();
    for (let round = 0; round < 3; round++) {
      const { backup } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app', type: 'full' });
      // Poll as fast as the catalog answers, and delete at the first sight of the end.
      for (;;) {
        const b = await core.backups.get(SYSTEM_ACTOR, backup.id);
        if (b.status === 'success') break;
        expect(b.status).not.toBe('error');
        await new Promise(setImmediate); // SQLite answers synchronously: let the job's own I/O run
      }
      expect(await codeOf(core.backups.remove(SYSTEM_ACTOR, backup.id))).toBe('ok');
    }
  });

  it('fires a missed run once at start, skips an overlapping run, and fires once across processes', async () => {
    const core = await setUp({ jobConcurrency: 0 }); // jobs stay queued: the first run is still "going"
    const s = await core.schedules.create(SYSTEM_ACTOR, { instance: 'app', cron: '0 3 * * *' });
    // The server was down at 03:00 for three days: the schedule is overdue.
    await core.catalog.schedules.setNext(s.id, new Date(Date.now() - 3 * 86_400_000).toISOString());
    const second = await Catalog.open(location); // another process sharing the catalog
    try {
      const lines: { level: number; msg: string; schedule_id?: number }[] = [];
      const a = new Scheduler(core.catalog, core.backups, core.audit, pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }));
      const b = new Scheduler(second as unknown as Catalog, core.backups, core.audit, SILENT_LOGGER);
      await Promise.all([a.tick(), b.tick()]);
      let jobs = await core.catalog.jobs.list({ kind: 'backup', limit: 10, offset: 0 });
      expect(jobs.total).toBe(1); // once, not three times, not once per process
      const after = (await core.schedules.get(SYSTEM_ACTOR, s.id));
      expect(Date.parse(after.nextRunAt!)).toBeGreaterThan(Date.now());
      // Due again while the first run still waits: skipped with a reason, not queued twice.
      await core.catalog.schedules.setNext(s.id, new Date(Date.now() - 1000).toISOString());
      await a.tick();
      jobs = await core.catalog.jobs.list({ kind: 'backup', limit: 10, offset: 0 });
      expect(jobs.total).toBe(1);
      expect((await core.schedules.get(SYSTEM_ACTOR, s.id)).lastResult).toMatch(/skipped/);
      // The server log says so, as a warning.
      expect(lines.filter((l) => l.schedule_id === s.id && pino.levels.labels[l.level] === 'warn').map((l) => l.msg)).toEqual([`schedule ${s.id} of app skipped: the previous run of this schedule is still going`]);
    } finally {
      await second.close();
    }
  });

  it('retention keeps what the policy says, for that instance only', async () => {
    const core = await setUp();
    const made: number[] = [];
    for (const instance of ['app', 'app', 'app', 'other']) {
      if (instance === 'other') fs.mkdirSync(path.join(dir, 'other'), { recursive: true });
      const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance });
      expect((await jobEnd(core, job.id)).state).toBe('success');
      made.push(backup.id);
    }
    const app = await core.catalog.instances.byName('app');
    const j = await core.catalog.jobs.enqueue({ kind: 'retention', instanceId: app!.id, backupId: null, scheduleId: null, payload: { policy: { last: 1 } }, createdBy: 'test' });
    (core as unknown as { runner: { wake(): void } }).runner.wake();
    expect((await jobEnd(core, j.id)).state).toBe('success');
    const left = (await core.backups.list(SYSTEM_ACTOR, { limit: 10, offset: 0 })).items.map((b) => b.id).sort();
    expect(left).toEqual([made[2], made[3]].sort());
  });

  it('queues a backup orphaned by a crash again when the next process starts', async () => {
    const core = await setUp({ jobConcurrency: 0 });
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    // As if a process that has since died had claimed it.
    await core.catalog.jobs.claim('localhost-that-died:999999999:x');
    await core.stop();
    cores = [];
    const next = await startCore({ jobConcurrency: 0 });
    const j = await next.jobs.get(SYSTEM_ACTOR, job.id);
    if (cat.name === 'sqlite') {
      // Another attempt of its MAX_ATTEMPTS (test/job-retries.test.ts follows it to the end).
      expect(j.state).toBe('scheduled');
      expect(j.attemptErrors).toEqual([expect.stringMatching(/interrupted/)]);
      expect((await next.backups.get(SYSTEM_ACTOR, backup.id)).status).toBe('scheduled');
    } else {
      // Shared catalog: a worker on another host is trusted until its heartbeat is a minute old.
      expect(j.state).toBe('running');
    }
  });
});
