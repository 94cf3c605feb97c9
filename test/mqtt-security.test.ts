/**
 * What a broker client may not do through Coffer's Kanto device: read a foreign server's answers
 * (SSRF oracle), reach private addresses, fill the disk with a download, take over a restore with
 * an uploaded backup's label, leave the scoped directory through a symlink, crash a command with
 * deep nesting, or read its secrets back from an error.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/core/index.js';
import { tempDir } from './helpers.js';
import { type KantoUnderTest, startKanto } from './mqtt-harness.js';
import { requireMosquitto } from './support/services.js';

const url = await requireMosquitto();

/** A plain HTTP server on loopback: a 403 with a secret in its body, an endless body, files by path. */
async function startForeign(): Promise<{ base: string; hits: string[]; files: Map<string, Buffer>; close(): Promise<void> }> {
  const hits: string[] = [];
  const files = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url?.startsWith('/internal-admin')) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"forbidden","hint":"internal db password is hunter2"}');
    } else if (req.url?.startsWith('/huge')) {
      // No Content-Length: only the cap stops it.
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024);
      const pump = (): void => {
        while (res.write(chunk)) { /* until the socket pushes back */ }
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      pump();
    } else if (req.method === 'PUT' || req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        files.set(new URL(req.url ?? '', 'http://x').pathname, Buffer.concat(chunks));
        res.writeHead(201).end();
      });
    } else {
      const b = files.get(new URL(req.url ?? '', 'http://x').pathname);
      res.writeHead(b ? 200 : 404).end(b ?? 'no such file');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, files,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Every message the probe received, as text: what any broker client could have read. */
const everything = (k: KantoUnderTest): string => k.probe.received.map((m) => JSON.stringify(m.body)).join('\n');

describe.skipIf(!url)('Kanto over MQTT: security', () => {
  let foreign: Awaited<ReturnType<typeof startForeign>>;
  beforeAll(async () => {
    foreign = await startForeign();
  });
  afterAll(async () => {
    await foreign?.close();
  });

  describe('with private URLs allowed (a test receiver on loopback)', () => {
    let k: KantoUnderTest;
    beforeAll(async () => {
      k = await startKanto(url!, { mode: 'scoped', maxDownloadBytes: 1024 * 1024 });
    });
    afterAll(async () => {
      await k?.close();
    });

    it('M6: a foreign 403 body never reaches MQTT, only its status', async () => {
      const cid = `r-ssrf-${Date.now()}`;
      await k.command('restore', { correlationID: cid, options: { 'https.url': `${foreign.base}/internal-admin/status` } });
      const failed = await k.state('lastOperation', cid, 'RESTORE_FAILED');
      expect(failed.message).toMatch(/403/);
      expect(everything(k)).not.toContain('hunter2');
    });

    it('M6: a download is stopped at the cap and nothing is left in downloads/', async () => {
      const cid = `r-huge-${Date.now()}`;
      await k.command('restore', { correlationID: cid, options: { 'https.url': `${foreign.base}/huge/2000000000` } });
      const failed = await k.state('lastOperation', cid, 'RESTORE_FAILED');
      expect(failed.message).toMatch(/larger than|limit/i);
      expect(fs.readdirSync(path.join(k.storageDir, 'downloads'))).toEqual([]);
    });

    it('M7: an upload labelled with the correlation id does not win over the MQTT backup', async () => {
      const cid = `b-keep-${Date.now()}`;
      fs.writeFileSync(path.join(k.dir, 'a.txt'), 'genuine\n');
      await k.command('backup', { correlationId: cid });
      await k.state('lastOperation', cid, 'BACKUP_FINISHED');
      // A second state of the directory, its backup file uploaded under the first one's label.
      fs.writeFileSync(path.join(k.dir, 'a.txt'), 'hijacked\n');
      const other = `other-${Date.now()}`;
      await k.command('backup', { correlationId: other });
      await k.state('lastOperation', other, 'BACKUP_FINISHED');
      const backups = await k.core.backups.list(SYSTEM_ACTOR, { status: 'success', limit: 50, offset: 0 });
      const second = backups.items.find((b) => b.extra?.['kanto_correlation_id'] === other)!;
      const file = await k.core.backupFiles.download(SYSTEM_ACTOR, second.id);
      const chunks: Buffer[] = [];
      for await (const c of file.stream) chunks.push(c as Buffer);
      const forged = await k.core.backupFiles.upload(SYSTEM_ACTOR, { instance: second.instance, label: cid }, Readable.from(Buffer.concat(chunks)));
      expect(forged.label).toBe(cid);

      const reply = await k.command('restore', { correlationID: cid, options: { 'backup.dir': k.dir } });
      expect(reply!.body.status).toBe(204);
      await k.state('lastOperation', cid, 'RESTORE_FINISHED');
      expect(fs.readFileSync(path.join(k.dir, 'a.txt'), 'utf8')).toBe('genuine\n');

      // An upload alone never answers a correlation id.
      const onlyUploaded = `only-upload-${Date.now()}`;
      await k.core.backupFiles.upload(SYSTEM_ACTOR, { instance: second.instance, label: onlyUploaded }, Readable.from(Buffer.concat(chunks)));
      const refused = await k.command('restore', { correlationID: onlyUploaded, options: {} });
      expect(refused!.body.status).toBe(400);
    });

    it('L6: scoped mode refuses a backup.dir that reaches outside through a symlink', async () => {
      const outside = tempDir('coffer-kanto-outside-');
      fs.writeFileSync(path.join(outside, 'keep.txt'), 'keep\n');
      const link = path.join(k.dir, `link-${Date.now()}`);
      fs.symlinkSync(outside, link);
      try {
        for (const op of ['restore', 'backup']) {
          const r = await k.command(op, { correlationID: `r-link-${op}`, options: { 'backup.dir': link, 'https.url': `${foreign.base}/evil.zip` } });
          expect(r!.body.status, op).toBe(400);
          expect(r!.body.value.message).toMatch(/not permitted under mode 'scoped'/);
        }
        // A path through the link into the outside is refused too; a real subdirectory is fine.
        const through = await k.command('backup', { options: { 'backup.dir': path.join(link, 'x') } });
        expect(through!.body.status).toBe(400);
        fs.mkdirSync(path.join(k.dir, 'real-sub'), { recursive: true });
        const cid = `sub-${Date.now()}`;
        const ok = await k.command('backup', { correlationId: cid, options: { 'backup.dir': path.join(k.dir, 'real-sub') } });
        expect(ok!.body.status).toBe(204);
        await k.state('lastOperation', cid, 'BACKUP_FINISHED');
        expect(fs.readdirSync(outside)).toEqual(['keep.txt']);
      } finally {
        fs.rmSync(link);
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });

    it('L8: a deeply nested value is a 400, not a 500', async () => {
      // Written as text: JSON.stringify itself cannot go this deep.
      const depth = 200_000;
      const deep = `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
      const id = `deep-${Date.now()}`;
      await k.probe.publish(`command//${k.thingId}/req//backup`, `{"topic":"${k.thingId.replace(':', '/')}/things/live/messages/backup",`
        + `"headers":{"response-required":true,"correlation-id":"${id}"},"path":"/features/BackupAndRestore/inbox/messages/backup",`
        + `"value":{"options":{"backup.dir":${deep}}}}`);
      const r = await k.probe.waitFor('the answer', (m) => m.topic.startsWith('command/') && m.body?.headers?.['correlation-id'] === id);
      expect(r!.body.status).toBe(400);
      expect(r!.body.value.error).toBe('messages:parameter.invalid');
      expect(r!.body.value.message.length).toBeLessThan(2000);
    });

    it('Suspicion 6: parameter errors never echo secret-looking option values', async () => {
      const secrets = {
        'aws.secret.access.key': 'AWS-SECRET-0123', 'azure.shared.access.signature': 'sv=2020&sig=AZURE-SIG-0123',
        'aws.session.token': 'SESSION-TOKEN-0123', 'https.header.Authorization': 'Bearer AUTH-0123', 'options.password': 'PASSWORD-0123',
      };
      const r = await k.command('backup', { correlationId: 'c', options: { ...secrets, 'backup.dir': 7 } });
      expect(r!.body.status).toBe(400);
      expect(r!.body.value.message).toMatch(/option 'backup.dir' must be a string/);
      for (const v of Object.values(secrets)) expect(r!.body.value.message).not.toContain(v);
    });

    it('Suspicion 13: the kanto.restore audit entry records the URL without user info and query; the job holds it sealed', async () => {
      const cid = `audit-${Date.now()}`;
      await k.command('backup', { correlationId: cid, options: { 'https.url': `${foreign.base}/put/${cid}.zip` } });
      await k.state('lastUpload', cid, 'SUCCESS');
      const withSecrets = `${foreign.base.replace('//', '//user:pa55word@')}/put/${cid}.zip?sig=QUERY-SECRET`;
      await k.command('restore', { correlationID: cid, options: { 'https.url': withSecrets } });
      await k.state('lastOperation', cid, 'RESTORE_FINISHED');
      const audit = await k.core.audit.list(SYSTEM_ACTOR, { limit: 100, offset: 0, actor: `mqtt:${k.thingId}` });
      const entry = audit.items.find((a) => a.action === 'kanto.restore' && a.detail?.['correlation_id'] === cid)!;
      expect(entry.detail).toMatchObject({ source: 'https', url: `${foreign.base}/put/${cid}.zip` });
      expect(JSON.stringify(entry)).not.toMatch(/pa55word|QUERY-SECRET/);
      // The restore job's record (its payload included) shows the source only as the audit entry does.
      const job = await k.core.catalog.jobs.get(Number((entry.target ?? '').replace(/^job:/, '')));
      expect(job).toMatchObject({ kind: 'restore', state: 'completed' });
      expect(JSON.stringify(job)).not.toMatch(/pa55word|QUERY-SECRET/);
    });
  });

  describe('with private URLs refused (the default)', () => {
    let k: KantoUnderTest;
    beforeAll(async () => {
      k = await startKanto(url!, { allowPrivateUrls: false });
    });
    afterAll(async () => {
      await k?.close();
    });

    it('M6: a loopback URL is refused before any request, for restores and uploads', async () => {
      const before = foreign.hits.length;
      const cid = `r-loop-${Date.now()}`;
      await k.command('restore', { correlationID: cid, options: { 'https.url': `${foreign.base}/internal-admin/x` } });
      const failed = await k.state('lastOperation', cid, 'RESTORE_FAILED');
      expect(failed.message).toMatch(/private|loopback/i);
      const named = `r-name-${Date.now()}`;
      await k.command('restore', { correlationID: named, options: { 'https.url': foreign.base.replace('127.0.0.1', 'localhost') } });
      expect((await k.state('lastOperation', named, 'RESTORE_FAILED')).message).toMatch(/private|loopback/i);
      const up = `u-loop-${Date.now()}`;
      await k.command('backup', { correlationId: up, options: { 'https.url': `${foreign.base}/put/x.zip` } });
      expect((await k.state('lastUpload', up, 'FAILED')).message).toMatch(/private|loopback/i);
      expect(foreign.hits.length).toBe(before);
    });
  });
});
