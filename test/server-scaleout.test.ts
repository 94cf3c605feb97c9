/**
 * Scale-out (docs/operations.md): one API process and two worker processes share a PostgreSQL
 * catalog and job queue; every backup runs exactly once, in a worker.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { type ServerProcess, client, startServer, until } from './server-process.js';

const pgOnly = (await catalogsUnderTest()).filter((c) => c.name === 'postgres');
if (pgOnly.length === 0) process.stderr.write('skipping the scale-out test: it needs PostgreSQL\n');

describe.skipIf(pgOnly.length === 0)('api and worker processes sharing PostgreSQL', () => {
  const cat = pgOnly[0]!;
  let dir: string;
  const procs: ServerProcess[] = [];

  beforeAll(async () => {
    dir = tempDir('coffer-scale-');
    const location = await cat.create(dir);
    const common = ['--data-dir', path.join(dir, 'data'), '--catalog', location];
    procs.push(await startServer([...common, '--role', 'api']));
    procs.push(await startServer([...common, '--role', 'worker', '--jobs', '1']));
    procs.push(await startServer([...common, '--role', 'worker', '--jobs', '1']));
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await cat.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs every backup once, in a worker', async () => {
    const api = client(procs[0]!.url);
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'data.bin'), randomBytes(2_000_000));
    expect((await api('PUT', '/api/v1/instances/shared', { parts: [{ name: 'files', kind: 'directory', path: src }] })).status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api('POST', '/api/v1/backup/create', { instance: 'shared', type: i === 0 ? 'full' : 'incremental' });
      expect(r.status).toBe(201);
      ids.push(r.body.backup_id);
    }
    const done = await until('all backups to end', async () => {
      const all = await Promise.all(ids.map(async (id) => (await api('GET', `/api/v1/backup/${id}`)).body));
      return all.every((b) => ['success', 'error'].includes(b.status)) ? all : undefined;
    }, 60_000, 200);
    expect(done.map((b) => b.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(new Set(done.map((b) => b.snapshot_id)).size).toBe(4);
  }, 90_000);
});
