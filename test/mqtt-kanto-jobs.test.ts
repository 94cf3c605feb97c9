/**
 * Kanto restores are Coffer restore jobs: while one runs (a download held half-way by a slow
 * server), a native restore of the same instance gets 409, the job is in /api/v1/jobs with its
 * progress, the audit log names it, and a second Coffer sharing the PostgreSQL catalog can start
 * no restore of that instance either, through its own Kanto device or its API.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Core, CoreError, SYSTEM_ACTOR } from '../src/core/index.js';
import { startApi } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { startKanto } from './mqtt-harness.js';
import { until } from './server-process.js';
import { requireMosquitto, selfSignedCertificate } from './support/services.js';

const url = await requireMosquitto();
const catalogs = await catalogsUnderTest();

/** Keeps what is PUT; GET /slow.zip sends the first half of `/up/k.zip` at once and the rest after `release()`. */
async function startSlowServer() {
  const cert = await selfSignedCertificate();
  const bodies = new Map<string, Buffer>();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'GET') {
        bodies.set(req.url ?? '', Buffer.concat(chunks));
        res.writeHead(201).end();
        return;
      }
      const zip = bodies.get('/up/k.zip');
      if (!zip) return void res.writeHead(404).end();
      const half = Math.floor(zip.length / 2);
      res.writeHead(200, { 'content-length': String(zip.length), 'content-type': 'application/zip' });
      res.write(zip.subarray(0, half));
      void released.then(() => res.end(zip.subarray(half)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: cert.cert, bodies, release,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe.skipIf(!url).each(catalogs)('Kanto restores are catalog restore jobs ($name)', (cat) => {
  afterAll(() => cat.cleanup());

  it('409 for a native restore while it runs, listed with progress, audited, and exclusive across processes', async () => {
    const work = tempDir('coffer-kanto-jobs-');
    const location = await cat.create(work);
    const api = await startApi({ ...cat, create: async () => location });
    const k = await startKanto(url!, { core: api.core });
    const server = await startSlowServer();
    const others: { close(): Promise<void> }[] = [];
    try {
      const cid = `uploaded-${Date.now()}`;
      await k.command('backup', { correlationId: cid, options: { 'https.url': `${server.url}/up/k.zip`, 'https.ca': server.ca } });
      await k.state('lastUpload', cid, 'SUCCESS');
      const backup = (await api.core.backups.list(SYSTEM_ACTOR, { status: 'success', limit: 50, offset: 0 })).items.find((b) => b.label === cid)!;
      const instance = backup.instance;
      fs.rmSync(path.join(k.dir, 'a.txt'));

      const rid = `slow-restore-${Date.now()}`;
      const reply = await k.command('restore', { correlationId: rid, options: { 'https.url': `${server.url}/slow.zip`, 'https.ca': server.ca } });
      expect(reply!.body.status).toBe(204);

      const job = await until('the Kanto restore in /api/v1/jobs, running, with progress', async () => {
        const r = await api.call('GET', '/api/v1/jobs?kind=restore');
        const j = (r.body as { id: string; instance: string; state: string; progress: { bytes_done: number; bytes_total?: number } }[]).find((x) => x.instance === instance);
        return j && j.state === 'running' && j.progress.bytes_done > 0 ? j : undefined;
      }, 15_000, 50);
      expect(job.progress.bytes_total).toBeGreaterThan(job.progress.bytes_done);

      const native = await api.call('POST', `/api/v1/backup/restore/${backup.id}`, { body: {} });
      expect(native.status, native.text).toBe(409);
      const busy = await k.command('restore', { correlationId: cid, options: {} });
      expect(busy!.body.value).toMatchObject({ status: 409, message: 'Restore operation is currently in progress!' });
      const backupNow = await k.command('backup', { correlationId: `${cid}-again` });
      expect(backupNow!.body.value).toMatchObject({ status: 409, message: 'Restore operation is currently in progress!' });

      const audit = await api.call('GET', '/api/v1/audit?action=kanto.restore');
      const entry = (audit.body as { target: string; actor: string; detail: Record<string, unknown> }[]).find((a) => a.target === `job:${String(job.id).replace(/\D/g, '')}`);
      expect(entry).toMatchObject({ actor: `mqtt:${k.thingId}`, detail: { correlation_id: rid, source: 'https', instance } });
      expect(audit.text).not.toContain('slow.zip?');

      if (cat.name === 'postgres') {
        // A second Coffer on the same catalog and secret: neither its Kanto device nor its core may start a restore of the
        // instance. An API-role one: its runner would take this process's jobs for a dead earlier life of the same pid.
        const otherDir = tempDir('coffer-kanto-other-');
        const other = await Core.start({ dataDir: otherDir, catalog: location, secretFile: path.join(api.dir, 'data', 'secret.key'), role: 'api' });
        others.push({ close: async () => { await other.stop(); fs.rmSync(otherDir, { recursive: true, force: true }); } });
        const k2 = await startKanto(url!, { core: other, mode: 'lax' });
        others.unshift(k2);
        const there = await k2.command('restore', { correlationId: cid, options: { 'backup.dir': k.dir } });
        expect(there!.body.value).toMatchObject({ status: 409, message: 'Restore operation is currently in progress!' });
        await expect(other.backups.restore(SYSTEM_ACTOR, backup.id, {})).rejects.toMatchObject({ code: 'conflict' });
        await expect(other.kanto.restore(SYSTEM_ACTOR, k.dir, 'x', { kind: 'backup', backupId: backup.id })).rejects.toBeInstanceOf(CoreError);
      }

      server.release();
      await k.state('lastOperation', rid, 'RESTORE_FINISHED');
      expect(fs.readFileSync(path.join(k.dir, 'a.txt'), 'utf8')).toBe('alpha\n');
      const ended = await api.call('GET', `/api/v1/jobs/${job.id}`);
      expect(ended.body).toMatchObject({ kind: 'restore', state: 'completed', instance });
    } finally {
      server.release();
      for (const o of others) await o.close();
      await k.close();
      await api.close();
      await server.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
