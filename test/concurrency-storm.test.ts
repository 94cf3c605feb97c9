/**
 * Concurrency storm on one `coffer serve` process: for a bounded time, several clients at once
 * create, delete, restore, upload and factory-reset (Riverbed `reset_factory`), native and device
 * backups overlapping, the way the fuzzing that crashed the server did (API-CHECK F1: device
 * backups, deletes and reset_factory overlapping ended in an uncaught LockConflictError).
 *
 * Invariants: the process never exits; every request gets an answer within its timeout (no hang,
 * no socket reset); never a 500 (409 and 503 are fine answers to a race). Random choices are
 * seeded (STORM_SEED replays them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogsUnderTest } from './catalogs.js';
import { pseudoRandom, tempDir } from './helpers.js';
import { ADMIN_KEY, type ServerProcess, startServer } from './server-process.js';
import { type Answer, type Rng, NoAnswer, send, seededRng, sleep } from './support/storm.js';
import { writeTree } from './api-harness.js';

const [sqlite] = await catalogsUnderTest();
const STORM_MS = 10_000;
const CLIENTS = 5;
/** Longer than any answer should take: DELETE waits for a lock for up to a minute (API-CHECK F3) and that is reported, not hidden. */
const REQUEST_TIMEOUT_MS = 20_000;
const RIVERBED = '/api/npm.backup/1.0';

interface Outcome {
  request: string;
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

describe('concurrency storm on one instance', () => {
  let dir: string;
  let server: ServerProcess;
  let backupFile: Buffer;
  const outcomes: Outcome[] = [];

  const call = async (method: string, url: string, o: Parameters<typeof send>[3] = {}): Promise<Answer | undefined> => {
    try {
      const r = await send(server.url, method, url, { key: ADMIN_KEY, timeoutMs: REQUEST_TIMEOUT_MS, ...o });
      outcomes.push({ request: `${method} ${url}`, status: r.status, body: r.text.slice(0, 200), ms: r.ms });
      return r;
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      outcomes.push({ request: err.request, error: err.message, ms: err.ms });
      return undefined;
    }
  };

  beforeAll(async () => {
    dir = tempDir('coffer-concurrency-');
    const location = await sqlite!.create(dir);
    for (const name of ['web', 'dev']) {
      writeTree(path.join(dir, name, 'files'), { 'big.bin': pseudoRandom(800_000, name.length), 'a.txt': name, 'sub/b.txt': 'b' });
    }
    server = await startServer(['--data-dir', path.join(dir, 'data'), '--catalog', location, '--jobs', '2', '--engine-workers', '1', '--max-backups-per-account', '0']);
    const put = (name: string) => send(server.url, 'PUT', `/api/v1/instances/${name}`, { key: ADMIN_KEY, body: { parts: [{ name: 'files', kind: 'directory', path: path.join(dir, name === 'device' ? 'dev' : name, 'files') }] } });
    expect((await put('web')).status).toBe(201);
    expect((await put('device')).status).toBe(200);
    const b = await send(server.url, 'POST', '/api/v1/backup/create', { key: ADMIN_KEY, body: { instance: 'web', type: 'full' } });
    expect(b.status, b.text).toBe(201);
    for (let i = 0; i < 300; i++) {
      const s = await send(server.url, 'GET', `/api/v1/backup/${b.body.backup_id}`, { key: ADMIN_KEY });
      if (s.body.status === 'success') break;
      await sleep(100);
    }
    const f = await fetch(`${server.url}/api/v1/backup/${b.body.backup_id}/file`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(f.status).toBe(200);
    backupFile = Buffer.from(await f.arrayBuffer());
  }, 90_000);

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await sqlite?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Ids of existing backups, native and device, to delete and restore. */
  const someBackup = async (rng: Rng, instance: string): Promise<string | undefined> => {
    const r = await call('GET', `/api/v1/backup/list?instance=${instance}&limit=50`);
    const ids = ((r?.body as { id: string }[] | undefined) ?? []).map((b) => b.id);
    return ids.length ? rng.pick(ids) : undefined;
  };

  const actions: Record<string, (rng: Rng) => Promise<unknown>> = {
    nativeBackup: (rng) => call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: rng.pick(['full', 'incremental']) } }),
    deviceBackup: () => call('POST', `${RIVERBED}/backups`, { body: { description: 'storm' } }),
    syncanoDeviceBackup: () => call('POST', '/v1/instances/device/backups/full/', { body: { label: 'storm' } }),
    deleteNative: async (rng) => {
      const id = await someBackup(rng, 'web');
      if (id) await call('DELETE', `/api/v1/backup/${id}`);
    },
    deleteDevice: async (rng) => {
      const id = await someBackup(rng, 'device');
      if (id) await call('DELETE', rng.next() < 0.5 ? `/v1/backups/full/${id.replace(/^backup-/, '')}/` : `${RIVERBED}/backups/items/${id.replace(/^backup-/, '')}`);
    },
    restore: async (rng) => {
      const id = await someBackup(rng, 'web');
      if (id) await call('POST', `/api/v1/backup/restore/${id}`, { body: {} });
    },
    upload: () => call('POST', '/api/v1/backup/upload?instance=web', { raw: backupFile, type: 'application/zip' }),
    resetFactory: () => call('POST', `${RIVERBED}/backups/reset_factory`),
  };
  const weights: [string, number][] = [['nativeBackup', 3], ['deviceBackup', 3], ['syncanoDeviceBackup', 2], ['deleteNative', 3], ['deleteDevice', 3], ['restore', 2], ['upload', 2], ['resetFactory', 1]];
  const pickAction = (rng: Rng): string => {
    let x = rng.next() * weights.reduce((s, [, w]) => s + w, 0);
    for (const [name, w] of weights) if ((x -= w) < 0) return name;
    return weights[0]![0];
  };

  it(`survives ${CLIENTS} clients for ${STORM_MS / 1000} s of creates, deletes, restores, uploads and factory resets`, async () => {
    const rng = seededRng('concurrency-storm');
    const end = Date.now() + STORM_MS;
    // One seeded source for all clients: the choices replay, their interleaving depends on the server's timing.
    const clients = Array.from({ length: CLIENTS }, () => (async () => {
      while (Date.now() < end) {
        await actions[pickAction(rng)]!(rng);
        await sleep(rng.int(0, 150));
      }
    })());
    // The F1 scenario on its own rhythm: reset_factory every 1.5 s while device backups and deletes overlap.
    const f1 = (async () => {
      while (Date.now() < end) {
        await Promise.all([actions.deviceBackup!(rng), actions.deleteDevice!(rng), sleep(300).then(() => actions.resetFactory!(rng))]);
        await sleep(1200);
      }
    })();
    await Promise.all([...clients, f1]);

    // Still there afterwards, and answering.
    await sleep(1000);
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const health = alive ? await call('GET', '/healthz') : undefined;
    const byStatus = outcomes.reduce<Record<string, number>>((acc, o) => ((acc[o.status ?? 'no answer'] = (acc[o.status ?? 'no answer'] ?? 0) + 1), acc), {});
    process.stderr.write(`concurrency-storm: ${outcomes.length} requests, by status ${JSON.stringify(byStatus)}, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms\n`);
    const slow = outcomes.filter((o) => o.ms > 10_000).map((o) => `${o.request} -> ${o.status ?? o.error} after ${o.ms} ms`);
    if (slow.length) process.stderr.write(`concurrency-storm: answers slower than 10 s (not a failure):\n  ${slow.join('\n  ')}\n`);

    expect(alive ? 'running' : `exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output().slice(-4000)}`).toBe('running');
    expect(health?.status).toBe(200);
    expect(outcomes.filter((o) => o.error).map((o) => `${o.request}: ${o.error}`), 'requests without an answer').toEqual([]);
    // The server's own account of a 500 (its error lines) goes with the failure.
    const errors = server.output().split('\n').filter((l) => /"level":"(error|fatal)"/.test(l)).slice(-5).join('\n');
    expect(outcomes.filter((o) => (o.status ?? 0) >= 500 && o.status !== 503).map((o) => `${o.request} -> ${o.status} ${o.body}`), `answers 5xx other than 503; server errors:\n${errors}`).toEqual([]);
  }, 120_000);
});
