/**
 * Kill storm: `coffer serve` is killed with SIGKILL at 20 random moments (seeded; the seed is
 * printed, STORM_SEED replays it) while backups, restores, uploads of a real backup file and a
 * schedule's retention run, and restarted each time. Part of the run is one process on SQLite,
 * part an API process and two workers sharing PostgreSQL, where the victim is any of the three.
 *
 * Afterwards: the server starts cleanly; every job has ended; no staging directory
 * (`.coffer-restore-*`) and no upload is left behind; every backup seen `success` before a kill
 * still has its record and snapshot and restores exactly what was backed up; `coffer check
 * --read-data` and `restic check --read-data` accept the repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { type ManifestEntry, coffer, manifest, pseudoRandom, requireRestic, restic, tempDir } from './helpers.js';
import { ADMIN_KEY, type ServerProcess, startServer, until } from './server-process.js';
import { type Rng, NoAnswer, defaultRepoPassword, findNamed, send, seededRng, sleep } from './support/storm.js';

const catalogs = await catalogsUnderTest();
const postgres = catalogs.find((c) => c.name === 'postgres');
const sqlite = catalogs.find((c) => c.name === 'sqlite')!;
const rng = seededRng('storm-kill');
/** 20 kills in all: most on SQLite, the rest against the scaled-out processes when PostgreSQL is there. */
const PHASES: { cat: CatalogUnderTest; scaled: boolean; kills: number }[] = postgres
  ? [{ cat: sqlite, scaled: false, kills: 12 }, { cat: postgres, scaled: true, kills: 8 }]
  : [{ cat: sqlite, scaled: false, kills: 20 }];

type Tree = Record<string, ManifestEntry>;

/** The processes of one deployment: `all`, or `api` + two `worker`s sharing the catalog. */
class Deployment {
  readonly procs: (ServerProcess | undefined)[];
  readonly log: string[] = [];
  constructor(private readonly args: string[], readonly roles: string[]) {
    this.procs = roles.map(() => undefined);
  }

  /** Starts every process that is not running; a start that fails is a finding (the server must start after any kill). */
  async ensureRunning(): Promise<void> {
    for (let i = 0; i < this.roles.length; i++) {
      const p = this.procs[i];
      if (p && p.child.exitCode === null && p.child.signalCode === null) continue;
      this.procs[i] = await startServer([...this.args, '--role', this.roles[i]!]);
    }
  }

  get url(): string {
    return this.procs[0]!.url;
  }

  async kill(i: number): Promise<void> {
    const p = this.procs[i]!;
    this.log.push(`kill ${this.roles[i]} pid ${p.child.pid}`);
    await p.stop('SIGKILL');
  }

  /** Processes that exited on their own (not killed by the test): their output is the evidence. */
  crashed(): string[] {
    return this.procs.flatMap((p, i) => (p && p.child.exitCode !== null ? [`${this.roles[i]} exited ${p.child.exitCode}:\n${p.output().slice(-3000)}`] : []));
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    for (const p of this.procs) await p?.stop(signal);
  }
}

function writeSource(dir: string, cycle: number): void {
  fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
  // A changing big file each cycle, so that every backup writes new packs a kill can interrupt.
  fs.writeFileSync(path.join(dir, `big-${cycle % 3}.bin`), pseudoRandom(1_200_000, 1000 + cycle));
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, 'docs', `note-${i}.txt`), `note ${i} of cycle ${i % 4 === 0 ? cycle : 0}\n`);
}

const workDirs: string[] = [];
afterAll(async () => {
  for (const c of catalogs) await c.cleanup();
  for (const d of workDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe.each(PHASES)('kill -9 storm on $cat.name (scaled out: $scaled)', ({ cat, scaled, kills }) => {
  it(`survives ${kills} kills with nothing lost, stuck or left behind`, async () => {
    const dir = tempDir('coffer-storm-kill-');
    workDirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const secretFile = path.join(dir, 'secret.key');
    const catalogUrl = await cat.create(dir);
    const web = path.join(dir, 'web', 'site');
    const copy = path.join(dir, 'copy', 'site');
    const sched = path.join(dir, 'sched', 'files');
    fs.mkdirSync(copy, { recursive: true });
    writeSource(web, 0);
    writeSource(sched, 0);

    const deployment = new Deployment(
      ['--data-dir', dataDir, '--catalog', catalogUrl, '--secret-file', secretFile, '--jobs', '1', '--engine-workers', '1', '--max-backups-per-account', '0'],
      scaled ? ['api', 'worker', 'worker'] : ['all'],
    );
    let last = Date.now();
    /** Where the time goes, on stderr: the storm is bounded, the checks after it are not free. */
    const stage = (name: string) => {
      process.stderr.write(`storm-kill ${cat.name}: ${name} took ${Date.now() - last} ms\n`);
      last = Date.now();
    };
    try {
      await deployment.ensureRunning();
      const call = (method: string, url: string, o: Parameters<typeof send>[3] = {}) => send(deployment.url, method, url, { key: ADMIN_KEY, timeoutMs: 20_000, ...o });
      const backupEnded = (id: string, ms = 60_000) => until(`backup ${id} to end`, async () => {
        const r = await call('GET', `/api/v1/backup/${id}`);
        return ['success', 'error'].includes(r.body?.status) ? r.body : undefined;
      }, ms, 100);
      const restoreEnded = (jobId: string, ms = 60_000) => until(`restore ${jobId} to end`, async () => {
        const r = await call('GET', `/api/v1/backup/restore/${jobId}/status`);
        return r.body?.status && r.body.status !== 'running' ? r.body : undefined;
      }, ms, 100);

      for (const [name, p] of [['web', web], ['copy', copy], ['sched', sched]] as const) {
        const r = await call('PUT', `/api/v1/instances/${name}`, { body: { parts: [{ name: 'site', kind: 'directory', path: p }] } });
        expect(r.status, r.text).toBe(201);
      }
      // A first backup, and its file: what the storm uploads again and again.
      const first = await call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full' } });
      expect(first.status, first.text).toBe(201);
      expect((await backupEnded(first.body.backup_id)).status).toBe('success');
      const file = await fetch(`${deployment.url}/api/v1/backup/${first.body.backup_id}/file`, { headers: { 'x-api-key': ADMIN_KEY } });
      expect(file.status).toBe(200);
      const backupFile = Buffer.from(await file.arrayBuffer());
      const schedule = await call('POST', '/api/v1/backup/schedule', { body: { instance: 'sched', cron: '*/2 * * * * *', type: 'incremental', keep_last: 2 } });
      expect(schedule.status, schedule.text).toBe(201);

      /**
       * Every content each file of `web` ever had: a backup runs when a process takes its job, which after a
       * kill may be cycles after it was asked for, so what it restores is checked file by file against history.
       */
      const history = new Map<string, Set<string>>();
      const remember = (tree: Tree) => {
        for (const [p, e] of Object.entries(tree)) if (e.sha256) (history.get(p) ?? history.set(p, new Set()).get(p)!).add(e.sha256);
      };
      remember(manifest(web));
      const staticFiles = Object.keys(manifest(web)).filter((p) => p.startsWith('docs/'));
      /** Backups of web seen `success` before some kill, with their snapshot. */
      const succeeded = new Map<string, string>();
      const noteSuccesses = async () => {
        const r = await call('GET', '/api/v1/backup/list?instance=web&status=success&limit=1000');
        for (const b of r.body as { id: string; snapshot_id: string }[]) succeeded.set(b.id, b.snapshot_id);
      };
      const actions: Record<string, () => Promise<unknown>> = {
        backup: () => call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: rng.pick(['full', 'incremental']) } }),
        restore: async () => {
          const ids = [...succeeded.keys()];
          if (ids.length) await call('POST', `/api/v1/backup/restore/${rng.pick(ids)}`, { body: { target: 'copy', mode: 'exact' } });
        },
        upload: () => call('POST', '/api/v1/backup/upload?instance=web', { raw: backupFile, type: 'application/zip' }),
      };

      for (let k = 1; k <= kills; k++) {
        await deployment.ensureRunning();
        const chosen = Array.from({ length: rng.int(1, 3) }, () => rng.pick(['backup', 'backup', 'restore', 'upload']));
        // Not awaited: the kill lands in the middle of them. Requests cut off by the kill are expected.
        const inFlight = chosen.map((a) => actions[a]!().catch((err: unknown) => {
          if (!(err instanceof NoAnswer)) throw err;
        }));
        await sleep(rng.int(1000, 3000));
        await noteSuccesses();
        const victim = scaled ? rng.int(0, 2) : 0;
        await deployment.kill(victim);
        await Promise.all(inFlight);
        writeSource(web, k);
        remember(manifest(web));
      }
      stage('storm');

      // The server starts cleanly after the last kill, and nothing crashed on its own.
      await deployment.ensureRunning();
      expect((await call('GET', '/healthz')).status).toBe(200);
      expect((await call('PUT', `/api/v1/backup/schedule/${schedule.body.id}`, { body: { enabled: false } })).status).toBe(200);

      // Every job ends (orphans are failed or retried and finish) within a grace period.
      const stuck = async () => {
        const open: string[] = [];
        for (const state of ['scheduled', 'running', 'uploading']) {
          const r = await call('GET', `/api/v1/jobs?state=${state}&limit=1000`);
          open.push(...(r.body as { id: string; kind: string; state: string; worker?: string }[]).map((j) => `${j.id} ${j.kind} ${j.state}`));
        }
        return open;
      };
      let stillOpen: string[] = [];
      await until('every job to end', async () => (stillOpen = await stuck()).length === 0 || undefined, 60_000, 500).catch(() => {});
      stage('waiting for every job to end');
      expect.soft(stillOpen, `jobs still open 60 s after the last restart (kills: ${deployment.log.join(', ')})`).toEqual([]);

      // Nothing left behind: no restore staging beside the targets, no partial upload.
      expect.soft(findNamed(dir, /^\.coffer-restore-/), 'restore staging left behind').toEqual([]);
      const uploads = path.join(dataDir, 'uploads');
      expect.soft(fs.existsSync(uploads) ? fs.readdirSync(uploads) : [], 'uploads left behind').toEqual([]);

      // No backup that was a success before a kill is lost: record, snapshot, and an exact restore.
      expect(succeeded.size).toBeGreaterThan(1);
      for (const [id, snapshot] of succeeded) {
        const b = await call('GET', `/api/v1/backup/${id}`);
        expect.soft(b.status, `${id}: ${b.text}`).toBe(200);
        expect.soft({ id, status: b.body.status, snapshot: b.body.snapshot_id }).toEqual({ id, status: 'success', snapshot });
      }
      const password = await defaultRepoPassword(catalogUrl, secretFile);
      const repo = path.join(dataDir, 'repo');
      const snaps = coffer(['snapshots', '--json', '-r', repo], { env: { COFFER_PASSWORD: password } });
      expect(snaps.code, snaps.stderr).toBe(0);
      const inRepo = new Set((JSON.parse(snaps.stdout) as { id: string }[]).map((s) => s.id));
      expect.soft([...succeeded].filter(([, snap]) => !inRepo.has(snap)), 'successful backups whose snapshot is gone').toEqual([]);
      const sample = [...succeeded.keys()].sort(() => rng.next() - 0.5).slice(0, 4);
      for (const id of sample) {
        const r = await call('POST', `/api/v1/backup/restore/${id}`, { body: { target: 'copy', mode: 'exact' } });
        expect.soft(r.status, `restore ${id}: ${r.text}`).toBe(202);
        if (r.status !== 202) continue;
        expect.soft((await restoreEnded(r.body.job_id)).status, `restore of ${id}`).toBe('completed');
        const restored = manifest(copy);
        const foreign = Object.entries(restored).filter(([p, e]) => e.sha256 && !history.get(p)?.has(e.sha256)).map(([p]) => p);
        expect.soft({ id, foreign, missing: staticFiles.filter((p) => !restored[p]) }, `what ${id} restores`).toEqual({ id, foreign: [], missing: [] });
      }
      stage('checking successful backups and restoring a sample');
      expect.soft(deployment.crashed(), 'processes that exited on their own').toEqual([]);

      // The repository: coffer's check and restic's, with every pack read.
      await deployment.stopAll('SIGTERM');
      const check = coffer(['check', '--read-data', '-r', repo], { env: { COFFER_PASSWORD: password } });
      expect.soft(check.code, check.stdout + check.stderr).toBe(0);
      if (requireRestic()) {
        const r = restic(['-r', repo, 'check', '--read-data'], { RESTIC_PASSWORD: password });
        expect.soft(r.code, r.stdout + r.stderr).toBe(0);
      }
      stage('coffer check and restic check');
      process.stderr.write(`storm-kill ${cat.name}: ${kills} kills, ${succeeded.size} successful backups kept (${deployment.log.join(', ')})\n`);
    } finally {
      await deployment.stopAll('SIGKILL');
    }
  }, 240_000);
});
