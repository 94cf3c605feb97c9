/** `coffer serve --mqtt-url …` as a real process: the Kanto device comes up with the server, and a broker that is down does not stop it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { Probe, uniqueThingId, writeSample } from './mqtt-harness.js';
import { type ServerProcess, client, startServer } from './server-process.js';
import { freePort, requireMosquitto } from './support/services.js';

const url = await requireMosquitto();

describe.skipIf(!url)('coffer serve with MQTT', () => {
  const work = tempDir('coffer-kanto-serve-');
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a backup over MQTT is a Coffer backup listed with its correlation id', async () => {
    const thingId = uniqueThingId();
    const dir = path.join(work, 'files');
    writeSample(dir);
    const probe = await Probe.connect(url!, [`command//${thingId}/res/#`, 'e']);
    try {
      const server = await startServer(['--data-dir', path.join(work, 'data'), '--mqtt-url', url!, '--kanto-thing-id', thingId, '--kanto-dir', dir]);
      servers.push(server);
      const ns = thingId.replace(':', '/');
      await probe.waitFor('the feature', (m) => m.topic === 'e' && m.body?.topic === `${ns}/things/twin/commands/modify` && m.body.path === '/features/BackupAndRestore');
      const cid = `serve-${Date.now()}`;
      const correlation = randomUUID();
      await probe.publish(`command//${thingId}/req//backup`, {
        topic: `${ns}/things/live/messages/backup`, headers: { 'response-required': true, 'correlation-id': correlation, 'content-type': 'application/json' },
        path: '/features/BackupAndRestore/inbox/messages/backup', value: { correlationId: cid },
      });
      const reply = await probe.waitFor('the answer', (m) => m.body?.headers?.['correlation-id'] === correlation);
      expect(reply.body.status).toBe(204);
      await probe.waitFor('BACKUP_FINISHED', (m) => m.topic === 'e' && m.body?.path?.endsWith('/properties/lastOperation') && m.body.value.correlationId === cid && m.body.value.state === 'BACKUP_FINISHED');
      const list = await client(server.url)('GET', '/api/v1/backup/list');
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).toContain(cid);
      expect(fs.readdirSync(path.join(work, 'data', 'kanto', 'backups')).filter((n) => n.endsWith('.zip'))).toHaveLength(1);
    } finally {
      await probe.close();
    }
  });

  it('starts while the broker is down, and says so', async () => {
    const port = await freePort();
    const server = await startServer(['--data-dir', path.join(work, 'data2'), '--mqtt-url', `mqtt://127.0.0.1:${port}`, '--kanto-thing-id', uniqueThingId(), '--kanto-dir', work, '--log-level', 'info']);
    servers.push(server);
    expect((await client(server.url)('GET', '/healthz')).status).toBe(200);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no MQTT log line:\n${server.output()}`)), 30_000);
      const look = () => {
        if (/MQTT (broker|connection).*retrying/.test(server.output())) {
          clearTimeout(t);
          resolve();
        } else setTimeout(look, 100);
      };
      look();
    });
  });

  it('refuses --mqtt-url without --kanto-dir unless the mode is lax', async () => {
    await expect(startServer(['--data-dir', path.join(work, 'data3'), '--mqtt-url', url!])).rejects.toThrow(/--kanto-dir is required/);
  });
});
