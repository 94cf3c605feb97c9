/**
 * Backup jobs that end without a result for a reason that may pass are queued again, a bounded
 * number of times, on both catalogs: a job whose worker died (crash recovery) and a job whose
 * repository stayed locked. The attempts and their reasons are on the job; the backup record is
 * `scheduled` while it waits, and ends in error only after the last attempt.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobView } from '../src/api/native/views.js';
import { Core, SYSTEM_ACTOR } from '../src/core/index.js';
import { backupExecutor } from '../src/core/jobs/backup-executor.js';
import { retentionExecutor } from '../src/core/jobs/retention-executor.js';
import { restoreExecutor } from '../src/core/jobs/restore-executor.js';
import { JobRunner, MAX_ATTEMPTS } from '../src/core/jobs/runner.js';
import { RepoLock } from '../src/repo/index.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

/** A worker id of this host whose process does not exist: any runner sees its jobs as orphans at once. */
const DEAD_WORKER = `${hostname()}:999999999:dead`;

describe.each(catalogs)('backup job retries on $name', (cat: CatalogUnderTest) => {
  let dir: string;
  let location: string;
  let cores: Core[] = [];
  /** What the cores wrote to their log, as pino's JSON lines. */
  const logLines: { level: number; msg: string; job_id?: number; attempt?: number; reason?: string }[] = [];

  /** jobConcurrency null: no job runner in the core at all (role api). */
  const startCore = async (jobConcurrency: number | null) => {
    const c = await Core.start({ dataDir: path.join(dir, 'data'), catalog: location, engineWorkers: 0, jobConcurrency: jobConcurrency ?? 0, adminPassword: 'admin-password',
      logger: pino({ level: 'info' }, { write: (l: string) => void logLines.push(JSON.parse(l)) }),
      ...(jobConcurrency === null ? { role: 'api' as const } : {}) });
    cores.push(c);
    return c;
  };
  const restart = async (core: Core, jobConcurrency: number) => {
    await core.stop();
    cores = cores.filter((c) => c !== core);
    return startCore(jobConcurrency);
  };
  const jobEnd = (core: Core, id: number) => until(`job ${id}`, async () => {
    const j = await core.jobs.get(SYSTEM_ACTOR, id);
    return ['scheduled', 'running', 'uploading'].includes(j.state) ? undefined : j;
  }, 60_000, 50);

  beforeAll(() => {
    dir = tempDir('coffer-retries-');
  });
  afterEach(async () => {
    for (const c of cores.splice(0)) await c.stop().catch(() => {});
    await cat.cleanup();
    fs.rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const setUp = async (jobConcurrency: number | null) => {
    location = await cat.create(dir);
    const core = await startCore(jobConcurrency);
    const src = path.join(dir, 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'f.txt'), 'content');
    await core.instances.create(SYSTEM_ACTOR, { name: 'app', parts: [{ name: 'files', kind: 'directory', path: src }] });
    return core;
  };

  it('a backup job left running by a dead worker is queued again and succeeds', async () => {
    let core = await setUp(0);
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    await core.catalog.jobs.claim(DEAD_WORKER);
    core = await restart(core, 0);
    // Waiting for a worker: job and backup are scheduled again, the dead attempt's reason recorded.
    const waiting = await core.jobs.get(SYSTEM_ACTOR, job.id);
    expect(waiting.state).toBe('scheduled');
    expect(waiting.attempts).toBe(1);
    expect(waiting.attemptErrors).toEqual([expect.stringMatching(/^attempt 1: interrupted/)]);
    expect((await core.backups.get(SYSTEM_ACTOR, backup.id)).status).toBe('scheduled');

    core = await restart(core, 1);
    const ended = await jobEnd(core, job.id);
    expect(ended.state, ended.error ?? '').toBe('success');
    expect(ended.attempts).toBe(2);
    const view = jobView(ended);
    expect(view.attempts).toBe(2);
    expect(view.attempt_errors).toHaveLength(1);
    const b = await core.backups.get(SYSTEM_ACTOR, backup.id);
    expect(b.status).toBe('success');
    // One snapshot for the backup: the dead attempt left none.
    const repo = await core.repositories.open(b.repositoryId);
    const tagged = (await repo.listSnapshots()).filter((s) => s.tags?.includes(`coffer-backup:${backup.id}`));
    expect(tagged.map((s) => s.id)).toEqual([b.snapshotId]);
  });

  it(`ends in error with every reason after ${MAX_ATTEMPTS} attempts lost to dead workers`, async () => {
    let core = await setUp(0);
    const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      expect((await core.catalog.jobs.claim(DEAD_WORKER))?.id).toBe(job.id);
      core = await restart(core, 0);
    }
    const j = await core.jobs.get(SYSTEM_ACTOR, job.id);
    expect(j.state).toBe('error');
    expect(j.error).toMatch(/interrupted/);
    expect(j.attempts).toBe(MAX_ATTEMPTS);
    expect(j.attemptErrors).toHaveLength(MAX_ATTEMPTS);
    expect(j.attemptErrors[MAX_ATTEMPTS - 1]).toMatch(new RegExp(`^attempt ${MAX_ATTEMPTS}: interrupted`));
    const b = await core.backups.get(SYSTEM_ACTOR, backup.id);
    expect(b.status).toBe('error');
    expect(b.statusInfo).toMatch(/interrupted/);
  });

  it('a job whose run fails outside its executor is logged, not left as an unhandled rejection', async () => {
    const core = await setUp(null);
    const logged: string[] = [];
    const runner = new JobRunner(core.catalog, core.events, {
      backup: backupExecutor(core.catalog, core.repositories, 0),
      restore: restoreExecutor(core.catalog, core.repositories, 0),
      retention: retentionExecutor(core.catalog, core.repositories, core.audit),
    }, { concurrency: 1, log: (m) => logged.push(m), onOrphan: async () => {} });
    // A listener that throws (a broken event stream) makes the runner's first publish throw.
    const unsubscribe = core.events.subscribe('*', () => {
      throw new Error('listener failed');
    });
    try {
      await runner.start();
      const { job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
      runner.wake();
      await until('the failure in the log', async () => logged.find((m) => m === `job ${job.id}: running it failed`), 10_000, 20);
    } finally {
      unsubscribe();
      await runner.stop();
    }
  });

  it('a backup that finds its repository locked is queued again, and fails only when its attempts run out', async () => {
    // The only runner is ours (a second one in this process would take ours for a dead worker's).
    const core = await setUp(null);
    // A runner of our own, with a short lock wait per attempt.
    const runner = new JobRunner(core.catalog, core.events, {
      backup: backupExecutor(core.catalog, core.repositories, 0, undefined, { lockWaitMs: 200 }),
      restore: restoreExecutor(core.catalog, core.repositories, 0),
      retention: retentionExecutor(core.catalog, core.repositories, core.audit),
    }, { concurrency: 1, log: () => {}, onOrphan: async () => {} });
    const instance = await core.catalog.instances.byName('app');
    const repo = await core.repositories.open(instance!.repositoryId);
    // A prune of another process holds the exclusive lock (this process is alive: never stale).
    const held = await RepoLock.acquire(repo, true);
    logLines.length = 0;
    try {
      await runner.start();
      const { backup, job } = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
      runner.wake();
      const failed = await jobEnd(core, job.id);
      expect(failed.state).toBe('error');
      expect(failed.attempts).toBe(MAX_ATTEMPTS);
      expect(failed.attemptErrors).toHaveLength(MAX_ATTEMPTS);
      for (const e of failed.attemptErrors) expect(e).toMatch(/the repository is locked/);
      expect((await core.backups.get(SYSTEM_ACTOR, backup.id)).status).toBe('error');
      // The server log tells each attempt: started, queued again with the reason, and the last one failed.
      const told = await until('the failure in the log', async () => {
        const mine = logLines.filter((l) => l.job_id === job.id);
        return mine.some((l) => l.msg.includes('failed')) && mine;
      }, 10_000, 20);
      expect(told.map((l) => `${pino.levels.labels[l.level]} ${l.attempt}`), JSON.stringify(told)).toEqual(['info 1', 'warn 1', 'info 2', 'warn 2', 'info 3', 'error 3']);
      expect(told[1]!.reason).toMatch(/^attempt 1: .*the repository is locked/);
      expect(told.at(-1)!.msg).toMatch(new RegExp(`^backup job ${job.id} failed: .*the repository is locked`));

      // Freed after the first attempt: the second one succeeds.
      const second = await core.backups.create(SYSTEM_ACTOR, { instance: 'app' });
      runner.wake();
      await until('the first attempt to end', async () => ((await core.jobs.get(SYSTEM_ACTOR, second.job.id)).attemptErrors.length > 0) || undefined, 30_000, 20);
      await held.release();
      const ok = await jobEnd(core, second.job.id);
      expect(ok.state, ok.error ?? '').toBe('success');
      expect(ok.attempts, JSON.stringify(ok)).toBeGreaterThanOrEqual(2);
    } finally {
      await held.release();
      await runner.stop();
    }
  });
});
