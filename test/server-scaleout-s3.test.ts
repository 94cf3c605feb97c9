/**
 * Scale-out on S3 (docs/operations.md): one API process and two worker processes share a
 * PostgreSQL catalog, the secret and two repositories on a real S3 server (Ceph's RADOS Gateway).
 * The default repository takes its credentials from the AWS_* variables every process has; the
 * second belongs to another S3 user whose keys exist only as the repository's sealed `options`, so
 * a worker that did not receive them would be refused by the server. restic checks both.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { ServerSecret } from '../src/core/secrets.js';
import { catalogsUnderTest } from './catalogs.js';
import { PASSWORD, manifest, requireRestic, resticOk, tempDir } from './helpers.js';
import { type ServerProcess, client, startServer, until } from './server-process.js';
import { type S3Server, startCephS3 } from './support/services.js';

const run = promisify(execFile);
// The SDK warns under Node 20 about its releases after January 2027 (as bin/coffer.js, silenced).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const pgOnly = (await catalogsUnderTest()).filter((c) => c.name === 'postgres');
if (pgOnly.length === 0) process.stderr.write('skipping the S3 scale-out test: it needs PostgreSQL\n');
const ceph = pgOnly.length ? await startCephS3() : null;
const restic = ceph ? requireRestic() : false;

/** The second S3 user: owns the `offsite` bucket, and only the sealed repository options know its keys. */
const OFFSITE_USER = { accessKeyId: 'coffer-offsite-access', secretAccessKey: 'coffer-offsite-secret' };
const DEFAULT_BUCKET = 'coffer-default';
const OFFSITE_BUCKET = 'coffer-offsite';

/**
 * Adds an S3 user to the running Ceph. services.ts does not expose Ceph's directory, so it is found
 * by the RGW port its ceph.conf names (unique among running servers).
 */
async function createCephUser(server: S3Server, uid: string, keys: typeof OFFSITE_USER): Promise<void> {
  const port = new URL(server.endpoint).port;
  const confs = fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('coffer-ceph-'))
    .map((d) => path.join(os.tmpdir(), d, 'ceph.conf'))
    .filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes(`endpoint=127.0.0.1:${port}\n`));
  if (confs.length !== 1) throw new Error(`cannot find the ceph.conf of the RGW on port ${port} (found ${confs.length})`);
  await run('radosgw-admin', ['-c', confs[0]!, 'user', 'create', `--uid=${uid}`, `--display-name=${uid}`,
    `--access-key=${keys.accessKeyId}`, `--secret-key=${keys.secretAccessKey}`], { timeout: 60_000 });
}

function s3Client(server: S3Server, keys: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: keys });
}

async function lockObjects(s3: S3Client, bucket: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'coffer/locks/' }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
}

afterAll(async () => {
  await ceph?.stop();
});

describe.skipIf(!ceph || !restic)('api and worker processes sharing PostgreSQL and S3 repositories', () => {
  // A skipped suite is still collected: nothing here may touch the server until a hook or test runs.
  const server = ceph ?? { endpoint: 'http://unavailable', accessKeyId: '', secretAccessKey: '', region: 'us-east-1', stop: async () => {} };
  const cat = pgOnly[0]!;
  const defaultLocation = `s3:${server.endpoint}/${DEFAULT_BUCKET}/coffer`;
  const offsiteLocation = `s3:${server.endpoint}/${OFFSITE_BUCKET}/coffer`;
  const envCredentials = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
  const offsiteEnv = { AWS_ACCESS_KEY_ID: OFFSITE_USER.accessKeyId, AWS_SECRET_ACCESS_KEY: OFFSITE_USER.secretAccessKey };
  let dir: string;
  let dataDir: string;
  let secretFile: string;
  let catalogUrl: string;
  let api: ReturnType<typeof client>;
  const procs: ServerProcess[] = [];
  let workers: ServerProcess[] = [];

  /** Which process ran a job (the API's `job-N`): the catalog row's worker id is `host:pid:start`. */
  const workerPidOf = async (jobId: string): Promise<number | undefined> => {
    const c = await Catalog.open(catalogUrl);
    try {
      const w = (await c.jobs.get(Number(jobId.replace(/^job-/, ''))))?.worker;
      return w ? Number(w.split(':')[1]) : undefined;
    } finally {
      await c.close();
    }
  };
  const defaultPassword = async (): Promise<string> => {
    const c = await Catalog.open(catalogUrl);
    try {
      const rec = await c.repositories.byName('default');
      return ServerSecret.loadOrCreate(secretFile).open(rec!.passwordSealed);
    } finally {
      await c.close();
    }
  };
  const backupDone = (id: string, ms = 120_000) => until(`backup ${id} to end`, async () => {
    const r = await api('GET', `/api/v1/backup/${id}`);
    return ['success', 'error'].includes(r.body?.status) ? r.body : undefined;
  }, ms, 250);

  beforeAll(async () => {
    dir = tempDir('coffer-scale-s3-');
    dataDir = path.join(dir, 'data');
    secretFile = path.join(dir, 'secret.key');
    catalogUrl = await cat.create(dir);
    await createCephUser(server, 'coffer-offsite', OFFSITE_USER);
    // Every process has the default repository's credentials in its environment, none the offsite user's.
    const common = ['--data-dir', dataDir, '--catalog', catalogUrl, '--secret-file', secretFile, '--engine-workers', '1'];
    procs.push(await startServer([...common, '--role', 'api', '--default-repository', defaultLocation], envCredentials));
    workers = [
      await startServer([...common, '--role', 'worker', '--jobs', '1'], envCredentials),
      await startServer([...common, '--role', 'worker', '--jobs', '1'], envCredentials),
    ];
    procs.push(...workers);
    api = client(procs[0]!.url);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await cat.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers a repository whose credentials exist only in its sealed options', async () => {
    const r = await api('POST', '/api/v1/repositories', {
      name: 'offsite', location: offsiteLocation, password: PASSWORD,
      options: { 's3.access-key-id': OFFSITE_USER.accessKeyId, 's3.secret-access-key': OFFSITE_USER.secretAccessKey },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.option_keys).toEqual(['s3.access-key-id', 's3.secret-access-key']);
    expect(JSON.stringify(r.body)).not.toContain(OFFSITE_USER.secretAccessKey);
    // The credentials the workers have in their environment are refused on the offsite bucket.
    const refused = await s3Client(server, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey })
      .send(new HeadBucketCommand({ Bucket: OFFSITE_BUCKET })).then(() => 'allowed', (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode);
    expect(refused).toBe(403);
    await s3Client(server, OFFSITE_USER).send(new HeadBucketCommand({ Bucket: OFFSITE_BUCKET }));
  });

  it('runs concurrent backups on both repositories in both workers, and restores', async () => {
    const instances = { alpha: 'default', beta: 'default', gamma: 'offsite', delta: 'offsite' } as const;
    for (const [name, repository] of Object.entries(instances)) {
      const src = path.join(dir, 'src', name);
      writeTree(src, { 'big.bin': randomBytes(6_000_000), 'notes/readme.txt': `instance ${name}\n`.repeat(1000), 'empty': '' });
      const put = await api('PUT', `/api/v1/instances/${name}`, { repository, parts: [{ name: 'files', kind: 'directory', path: src }] });
      expect(put.status, JSON.stringify(put.body)).toBe(201);
    }
    const created = await Promise.all(Object.keys(instances).flatMap((name) => ['full', 'incremental'].map((type) =>
      api('POST', '/api/v1/backup/create', { instance: name, type }))));
    for (const c of created) expect(c.status, JSON.stringify(c.body)).toBe(201);
    const done = await Promise.all(created.map((c) => backupDone(c.body.backup_id)));
    expect(done.filter((b) => b.status !== 'success').map((b) => `${b.backup_id ?? b.id}: ${b.status} ${b.status_info}`)).toEqual([]);
    expect(new Set(done.map((b) => b.snapshot_id)).size).toBe(created.length);

    // Each backup ran in exactly one of the two workers, and both took some.
    const pids = await Promise.all(created.map((c) => workerPidOf(c.body.job_id)));
    const workerPids = workers.map((w) => w.child.pid);
    for (const pid of pids) expect(workerPids).toContain(pid);
    expect(new Set(pids).size).toBe(2);

    // The offsite instances' snapshots are in the offsite bucket, as restic sees it with that user's keys.
    const offsiteSnaps = JSON.parse(resticOk(['-r', offsiteLocation, '--json', 'snapshots'], offsiteEnv).stdout) as { id: string; tags?: string[] }[];
    const offsiteIds = done.filter((_, i) => ['gamma', 'delta'].includes(Object.keys(instances)[i >> 1]!)).map((b) => b.snapshot_id as string);
    expect(offsiteSnaps.map((s) => s.id).sort()).toEqual([...offsiteIds].sort());

    // A restore from the offsite repository, run by a worker, into another instance.
    const staging = path.join(dir, 'staging');
    expect((await api('PUT', '/api/v1/instances/staging', { repository: 'offsite', parts: [{ name: 'files', kind: 'directory', path: staging }] })).status).toBe(201);
    const gammaFull = created[4]!.body.backup_id as string;
    const r = await api('POST', `/api/v1/backup/restore/${gammaFull}`, { target: 'staging' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const restored = await until('restore to end', async () => {
      const s = await api('GET', `/api/v1/backup/restore/${r.body.job_id}/status`);
      return ['completed', 'completed_with_errors', 'failed'].includes(s.body?.status) ? s.body : undefined;
    }, 120_000, 250);
    expect(restored.status, JSON.stringify(restored)).toBe('completed');
    expect(workerPids).toContain(await workerPidOf(r.body.job_id));
    expect(manifest(staging)).toEqual(manifest(path.join(dir, 'src', 'gamma')));

    // restic verifies every byte of both repositories.
    resticOk(['-r', defaultLocation, 'check', '--read-data'], { ...envCredentials, RESTIC_PASSWORD: await defaultPassword() });
    resticOk(['-r', offsiteLocation, 'check', '--read-data'], offsiteEnv);
  }, 300_000);

  it('a worker killed mid-backup: another worker retries the job, its stale lock blocks nothing', async () => {
    const offsite = s3Client(server, OFFSITE_USER);
    expect(await lockObjects(offsite, OFFSITE_BUCKET)).toEqual([]);
    const src = path.join(dir, 'src', 'big');
    for (let i = 0; i < 5; i++) writeTree(src, { [`f${i}.bin`]: randomBytes(40 * 1024 * 1024) });
    expect((await api('PUT', '/api/v1/instances/big', { repository: 'offsite', parts: [{ name: 'data', kind: 'directory', path: src }] })).status).toBe(201);
    const created = await api('POST', '/api/v1/backup/create', { instance: 'big', type: 'full' });
    expect(created.status).toBe(201);
    await until('the backup to be under way', async () => {
      const j = await api('GET', `/api/v1/jobs/${created.body.job_id}`);
      return (j.body?.progress?.bytes_done ?? 0) > 0 || undefined;
    }, 60_000, 20);
    // Reading starts before the lock is written (withLockOverlapped): wait for the lock too.
    await until('the backup\'s lock in the bucket', async () => (await lockObjects(offsite, OFFSITE_BUCKET)).length === 1 || undefined, 60_000, 20);
    const pid = await workerPidOf(created.body.job_id);
    const victim = workers.find((w) => w.child.pid === pid);
    expect(victim, `job ${created.body.job_id} runs in pid ${pid}`).toBeDefined();
    const survivor = workers.find((w) => w !== victim)!;
    expect(await victim!.stop('SIGKILL')).toBe('SIGKILL');
    // The dead worker's lock is left behind in the bucket.
    expect((await lockObjects(offsite, OFFSITE_BUCKET)).length).toBe(1);

    // The surviving worker sees the dead process at its next heartbeat and queues the job again;
    // it then claims the job itself and completes the backup.
    const retried = await backupDone(created.body.backup_id, 270_000);
    expect(retried.status, retried.status_info).toBe('success');
    const job = await api('GET', `/api/v1/jobs/${created.body.job_id}`);
    expect(job.body.state).toBe('success');
    expect(job.body.attempts).toBe(2);
    expect(job.body.attempt_errors).toEqual([expect.stringMatching(/interrupted/)]);
    expect(await workerPidOf(created.body.job_id)).toBe(survivor.child.pid);
    // The retry removed the stale lock on its way, so restic's exclusive lock for check is free.
    expect(await lockObjects(offsite, OFFSITE_BUCKET)).toEqual([]);
    resticOk(['-r', offsiteLocation, 'check', '--read-data'], offsiteEnv);
  }, 400_000);
});
