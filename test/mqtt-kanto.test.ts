/**
 * Coffer as Eclipse Kanto's File Backup device on the real Mosquitto: Kanto's documentation's messages, both
 * topic styles, Kanto's error rows, malformed input, the feature and its status properties, the
 * two-step upload to an HTTPS receiver, cancel, trigger, restore from Coffer's repository, 409.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/core/index.js';
import { FEATURE_DEFINITIONS } from '../src/mqtt/index.js';
import { manifest, tempDir } from './helpers.js';
import { type KantoUnderTest, expectSameFiles, seedBackupExample, startKanto } from './mqtt-harness.js';
import { requireMosquitto, selfSignedCertificate } from './support/services.js';

const url = await requireMosquitto();

/** A loopback HTTPS server that keeps what is PUT or POSTed; paths under /hang never answer. */
interface Receiver {
  url: string;
  ca: string;
  bodies: Map<string, Buffer>;
  hanging: number;
  headers: import('node:http').IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const cert = await selfSignedCertificate();
  const bodies = new Map<string, Buffer>();
  const r = { bodies, hanging: 0, headers: [] } as unknown as Receiver;
  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    r.headers.push(req.headers);
    if (req.url?.startsWith('/hang')) {
      r.hanging++;
      req.on('data', () => undefined);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') {
        const b = bodies.get(req.url ?? '');
        res.writeHead(b ? 200 : 404).end(b ?? 'no such file');
        return;
      }
      bodies.set(req.url ?? '', Buffer.concat(chunks));
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.ca = cert.cert;
  r.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

describe.skipIf(!url)('Kanto File Backup over MQTT', () => {
  let k: KantoUnderTest;
  let receiver: Receiver;

  beforeAll(async () => {
    k = await startKanto(url!);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await k?.close();
    await receiver?.close();
  });

  it('announces the feature with both definitions and Kanto properties', () => {
    const feature = k.probe.received.find((m) => m.topic === 'e' && m.body.path === '/features/BackupAndRestore')!.body;
    expect(feature.topic).toBe(`${k.thingId.replace(':', '/')}/things/twin/commands/modify`);
    expect(feature.headers['response-required']).toBe(false);
    expect(feature.value.definition).toEqual([...FEATURE_DEFINITIONS]);
    expect(feature.value.properties).toEqual({
      type: 'file', context: 'edge', info: { supportedProviders: 'aws,azure,generic' }, autoUpload: { active: false, startTime: null, endTime: null },
    });
  });

  it("Kanto's documentation's backup example, verbatim but for the directory: 204 on Kanto's documentation's topic, then the two-step upload to HTTPS", async () => {
    const cid = `upload-id-${Date.now()}#n`;
    const correlation = randomUUID();
    const payload = seedBackupExample({ thingId: k.thingId, dir: k.dir, correlationId: cid, requestId: correlation });
    await k.probe.publish(`command//${k.thingId}/req//backup`, payload);
    const reply = await k.probe.waitFor('the answer', (m) => m.body?.headers?.['correlation-id'] === correlation);
    expect(reply.topic).toBe(`command//${k.thingId}/res//backup`);
    expect(reply.body).toEqual({
      topic: `${k.thingId.replace(':', '/')}/things/live/messages/backup`,
      headers: { 'content-type': 'application/json', 'correlation-id': correlation },
      path: '/features/BackupAndRestore/outbox/messages/backup',
      status: 204,
    });
    const finished = await k.state('lastOperation', cid, 'BACKUP_FINISHED');
    expect(finished.progress).toBe(100);
    const ops = k.probe.property(k.thingId, 'lastOperation').filter((v) => v.correlationId === cid);
    expect(ops[0]).toMatchObject({ state: 'BACKUP_STARTED', progress: 0, endTime: '0001-01-01T00:00:00Z' });
    expect(ops.at(-1)!.endTime).not.toBe('0001-01-01T00:00:00Z');

    // Visible in Coffer with its correlation id as the label.
    const list = await k.core.backups.list(SYSTEM_ACTOR, { limit: 50, offset: 0 });
    const b = list.items.find((x) => x.label === cid)!;
    expect(b).toMatchObject({ status: 'success', createdBy: `mqtt:${k.thingId}` });

    // Kanto's request: `<cid>#1`, the ZIP's path, the offered providers.
    const request = await k.probe.waitFor('the upload request', (m) => m.topic === 'e' && m.body?.path === '/features/BackupAndRestore/outbox/messages/request' && m.body.value?.correlationId === `${cid}#1`);
    const file = request.body.value.options['file.path'] as string;
    expect(request.body.value.options['storage.providers']).toBe('aws, azure, generic');
    expect(fs.existsSync(file)).toBe(true);

    const start = await k.command('start', { correlationId: `${cid}#1`, options: { 'https.url': `${receiver.url}/up/one.zip`, 'https.ca': receiver.ca, 'info.who': 'test' } });
    expect(start!.body.status).toBe(204);
    const success = await k.state('lastUpload', cid, 'SUCCESS');
    expect(success).toMatchObject({ progress: 100, info: { who: 'test' } });
    expect(k.probe.property(k.thingId, 'lastUpload').find((v) => v.correlationId === cid)!.state).toBe('UPLOADING');
    const zip = receiver.bodies.get('/up/one.zip')!;
    expect(zip.subarray(0, 4).toString('binary')).toBe('PK\x03\x04');
    expect(zip.includes(Buffer.from('sub\\'))).toBe(true); // Kanto's directory entries
    expect(fs.existsSync(file)).toBe(false); // deleted after the upload, as Kanto does without keepUploaded

    // A second start of the same upload: it is gone.
    const again = await k.command('start', { correlationId: `${cid}#1`, options: { 'https.url': `${receiver.url}/x` } });
    expect(again!.body).toMatchObject({ status: 404, value: { status: 404, error: 'messages:parameter.invalid', message: `upload with correlation ID '${cid}#1' not found` } });

    const audit = await k.core.audit.list(SYSTEM_ACTOR, { limit: 100, offset: 0, actor: `mqtt:${k.thingId}` });
    expect(audit.items.map((a) => a.action)).toEqual(expect.arrayContaining(['kanto.backup', 'backup.create', 'kanto.upload']));
  });

  it('restores from https.url with https.header.* into the wiped directory', async () => {
    const cid = `https-restore-${Date.now()}`;
    await k.command('backup', { correlationId: cid, options: { 'https.url': `${receiver.url}/up/two.zip`, 'https.ca': receiver.ca } });
    await k.state('lastUpload', cid, 'SUCCESS');
    const before = manifest(k.dir);
    fs.rmSync(k.dir, { recursive: true });
    const reply = await k.command('restore', { correlationId: cid, options: { 'https.url': `${receiver.url}/up/two.zip`, 'https.ca': receiver.ca, 'https.header.X-Token': 'secret-token' } });
    expect(reply!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'RESTORE_FINISHED');
    expect(receiver.headers.some((h) => h['x-token'] === 'secret-token')).toBe(true);
    expect(manifest(k.dir)).toEqual(before);
  });

  it("Kanto's topic style: command///req/<req-id>/backup answered on command///res/<req-id>/<status>; keys in any case, providers as a list", async () => {
    const reqId = `r${Date.now()}`;
    const cid = `kanto-style-${Date.now()}`;
    const reply = await k.command('backup', { CorrelationId: cid, providers: ['generic'], Options: { 'options.foo': 'bar' } }, { reqId });
    expect(reply!.topic).toBe(`command///res/${reqId}/204`);
    expect(reply!.body.status).toBe(204);
    const request = await k.probe.waitFor('the upload request', (m) => m.body?.value?.correlationId === `${cid}#1`);
    expect(request.body.value.options.foo).toBe('bar');
    expect(request.body.headers['response-required']).toBe(false);
    // cancel before start: CANCELED with the given status code and message; the ZIP stays for a trigger.
    expect((await k.command('cancel', { correlationId: cid, statusCode: '400', message: 'not today' }))!.body.status).toBe(204);
    expect(await k.state('lastUpload', cid, 'CANCELED')).toMatchObject({ statusCode: '400', message: 'not today' });
    expect(fs.existsSync(request.body.value.options['file.path'])).toBe(true);

    const trig = `trigger-${Date.now()}`;
    expect((await k.command('trigger', { correlationId: trig, options: {} }))!.body.status).toBe(204);
    const again = await k.probe.waitFor('the triggered request', (m) => m.body?.value?.correlationId === `${trig}#1`);
    expect(again.body.value.options['file.path']).toBe(request.body.value.options['file.path']);
  });

  it('cancel aborts a running upload', async () => {
    const cid = `cancel-running-${Date.now()}`;
    expect((await k.command('backup', { correlationId: cid }))!.body.status).toBe(204);
    await k.probe.waitFor('the upload request', (m) => m.body?.value?.correlationId === `${cid}#1`);
    const hangingBefore = receiver.hanging;
    expect((await k.command('start', { correlationId: `${cid}#1`, options: { 'https.url': `${receiver.url}/hang`, 'https.ca': receiver.ca } }))!.body.status).toBe(204);
    await k.state('lastUpload', cid, 'UPLOADING');
    await k.probe.waitFor('the receiver to be reached', () => receiver.hanging > hangingBefore);
    expect((await k.command('cancel', { correlationId: `${cid}#1`, statusCode: '499', message: 'stop it' }))!.body.status).toBe(204);
    expect(await k.state('lastUpload', cid, 'CANCELED')).toMatchObject({ statusCode: '499', message: 'stop it' });
  });

  it('upload failures name the real cause', async () => {
    const cid = `fail-${Date.now()}`;
    await k.command('backup', { correlationId: cid });
    await k.probe.waitFor('the upload request', (m) => m.body?.value?.correlationId === `${cid}#1`);
    // No CA given: the self-signed certificate does not verify.
    await k.command('start', { correlationId: `${cid}#1`, options: { 'https.url': `${receiver.url}/up/fail.zip` } });
    const failed = await k.state('lastUpload', cid, 'FAILED');
    expect(failed.message).toMatch(/certificate/i);
  });

  it('restores by correlationID from Coffer\'s repository into a wiped directory', async () => {
    const cid = `repo-restore-${Date.now()}`;
    const before = manifest(k.dir);
    await k.command('backup', { correlationId: cid });
    await k.state('lastOperation', cid, 'BACKUP_FINISHED');
    fs.rmSync(k.dir, { recursive: true });
    const reply = await k.command('restore', { correlationID: cid, options: { 'backup.dir': k.dir } });
    expect(reply!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'RESTORE_FINISHED');
    const after = manifest(k.dir);
    expectSameFiles(after, before);
  });

  it('409 while a backup runs, for a backup and for a restore', async () => {
    const cid = `busy-${Date.now()}`;
    const [first, second, third] = await Promise.all([
      k.command('backup', { correlationId: cid }),
      k.command('backup', { correlationId: `${cid}-2` }),
      k.command('restore', { correlationId: cid, options: { 'https.url': `${receiver.url}/nothing.zip` } }),
    ]);
    expect(first!.body.status).toBe(204);
    expect(second!.body).toMatchObject({ status: 409, value: { status: 409, error: 'messages:execution.failed', message: 'Backup operation is currently in progress!' } });
    expect(third!.body.value.message).toBe('Backup operation is currently in progress!');
    await k.state('lastOperation', cid, 'BACKUP_FINISHED');
  });

  it('restore failures name the real cause (a download that is not there)', async () => {
    const cid = `dl-fail-${Date.now()}`;
    const reply = await k.command('restore', { correlationId: cid, options: { 'https.url': `${receiver.url}/missing.zip`, 'https.ca': receiver.ca } });
    expect(reply!.body.status).toBe(204);
    const failed = await k.state('lastOperation', cid, 'RESTORE_FAILED');
    expect(failed.message).toMatch(/404/);
  });

  it("Kanto's error rows with Kanto's messages", async () => {
    const outside = tempDir('coffer-kanto-outside-');
    const expectError = async (op: string, value: unknown, status: number, error: string, message: string | RegExp) => {
      const r = await k.command(op, value);
      expect(r!.body.status, JSON.stringify(value)).toBe(status);
      expect(r!.body.value.status).toBe(status);
      expect(r!.body.value.error).toBe(error);
      expect(r!.body.value.message).toMatch(message);
      expect(r!.body.path).toBe(`/features/BackupAndRestore/outbox/messages/${op}`);
    };
    await expectError('backup', { options: { 'backup.dir': outside } }, 400, 'messages:execution.failed', `accessing directory '${outside}' is not permitted under mode 'strict'`);
    await expectError('restore', { correlationId: 'x', options: { 'backup.dir': outside, 'https.url': 'https://example.invalid/' } }, 400, 'messages:execution.failed', /is not permitted under mode 'strict'/);
    await expectError('restore', { options: {} }, 400, 'messages:parameter.invalid', /^Download URL not specified!$/);
    await expectError('restore', { correlationId: 'never-backed-up', options: {} }, 400, 'messages:parameter.invalid', /Download URL not specified!.*never-backed-up/);
    await expectError('backup', { providers: 'aws' }, 400, 'messages:parameter.invalid', /^invalid 'backup' operation parameters: .*providers/);
    await expectError('backup', { options: { 'backup.dir': 7 } }, 400, 'messages:parameter.invalid', /^invalid 'backup' operation parameters/);
    await expectError('restore', 'a string', 400, 'messages:parameter.invalid', /^invalid 'restore' operation parameters/);
    await expectError('backup', { options: { 'storage.provider': 'aws', 'aws.region': 'x' } }, 400, 'messages:parameter.invalid', /required parameter 'aws\.access\.key\.id' missing or empty/);
    await expectError('backup', { options: { 'storage.provider': 'ftp' } }, 400, 'messages:parameter.invalid', "unknown storage provider 'ftp'");
    await expectError('dance', {}, 400, 'messages:parameter.invalid', "Unsupported operation 'dance'!");
    await expectError('start', { correlationId: 'nope#1' }, 404, 'messages:parameter.invalid', "upload with correlation ID 'nope#1' not found");
    await expectError('cancel', { correlationId: 'nope' }, 404, 'messages:parameter.invalid', "upload with correlation ID 'nope' not found");
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('a missing directory: backup.dir not found (lax), and restore creates it', async () => {
    const lax = await startKanto(url!, { mode: 'lax', noDir: true, core: k.core });
    try {
      const gone = path.join(lax.work, 'gone');
      const r = await lax.command('backup', { options: { 'backup.dir': gone } });
      expect(r!.body.value).toEqual({ status: 400, error: 'messages:execution.failed', message: `backup directory '${gone}' not found` });
      const none = await lax.command('backup', {});
      expect(none!.body.value).toEqual({ status: 400, error: 'messages:execution.failed', message: 'backup directory not specified' });
      // Backed up here, restored into a directory that does not exist yet.
      const cid = `lax-${Date.now()}`;
      await lax.command('backup', { correlationId: cid, options: { 'backup.dir': lax.dir } });
      await lax.state('lastOperation', cid, 'BACKUP_FINISHED');
      const target = path.join(lax.work, 'new', 'place');
      expect((await lax.command('restore', { correlationId: cid, options: { 'backup.dir': target } }))!.body.status).toBe(204);
      await lax.state('lastOperation', cid, 'RESTORE_FINISHED');
      expect(fs.readFileSync(path.join(target, 'sub', 'deeper', 'c.txt'), 'utf8')).toBe('gamma '.repeat(1000));
      expect(fs.statSync(path.join(target, 'empty')).isDirectory()).toBe(true);
    } finally {
      await lax.close();
    }
  });

  it('response-required false: no answer (the next command is answered, the silent one is not)', async () => {
    const silent = randomUUID();
    await k.probe.publish(`command//${k.thingId}/req//dance`, {
      topic: `${k.thingId.replace(':', '/')}/things/live/messages/dance`, headers: { 'response-required': false, 'correlation-id': silent },
      path: '/features/BackupAndRestore/inbox/messages/dance', value: {},
    });
    const next = await k.command('dance', {});
    expect(next!.body.status).toBe(400);
    expect(k.probe.received.some((m) => m.body?.headers?.['correlation-id'] === silent)).toBe(false);
  });

  it('malformed payloads are answered 400 and never stop the device', async () => {
    const topic = `command//${k.thingId}/req//backup`;
    const dittoTopic = `${k.thingId.replace(':', '/')}/things/live/messages/backup`;
    const inbox = '/features/BackupAndRestore/inbox/messages/backup';
    const cases: unknown[] = [
      'not json {', '[]', 'null', '42', '"text"', '',
      { topic: dittoTopic, headers: null, path: inbox, value: {} },
      { topic: dittoTopic, headers: { 'correlation-id': 12 }, path: inbox, value: {} },
      { topic: dittoTopic, headers: { 'response-required': 'yes' }, path: inbox, value: {} },
      { topic: dittoTopic, headers: { 'correlation-id': { a: 1 } }, path: inbox },
      { headers: {}, path: inbox },
      { topic: dittoTopic, headers: {} },
      { topic: 'no/thing', headers: {}, path: inbox },
      { topic: dittoTopic, headers: [], path: inbox },
      { topic: dittoTopic, path: inbox, value: { options: null, providers: null, correlationId: null } }, // valid: an ordinary backup
    ];
    const bytes = Buffer.alloc(512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 97 + 13) % 256;
    cases.push(bytes);
    const seen = k.probe.received.length;
    for (const c of cases) await k.probe.publish(topic, typeof c === 'string' || Buffer.isBuffer(c) ? c : JSON.stringify(c));
    // Everything that could be answered was, with 400 (the valid one with 204 or 409), and the device still works.
    await k.probe.waitFor('answers to the fuzz', () => k.probe.received.slice(seen).filter((m) => m.topic === `command//${k.thingId}/res//backup`).length >= cases.length);
    const answers = k.probe.received.slice(seen).filter((m) => m.topic === `command//${k.thingId}/res//backup`).map((m) => m.body);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(cases.length - 1);
    for (const a of answers.filter((x) => x.status === 400)) {
      expect(a).toMatchObject({ topic: dittoTopic, path: '/features/BackupAndRestore/outbox/messages/backup', value: { error: 'messages:parameter.invalid' } });
    }
    expect(answers.find((a) => a.status === 400 && a.headers['correlation-id'] === '12')).toBeTruthy();
    const still = await k.command('dance', {});
    expect(still!.body.status).toBe(400);
  });

  it('ignores commands for another thing or another feature', async () => {
    const other = randomUUID();
    await k.probe.publish('command///req/x1/backup', {
      topic: 'someone.else/device/things/live/messages/backup', headers: { 'correlation-id': other, 'response-required': true },
      path: '/features/BackupAndRestore/inbox/messages/backup', value: {},
    });
    await k.probe.publish(`command//${k.thingId}/req//backup`, {
      topic: `${k.thingId.replace(':', '/')}/things/live/messages/backup`, headers: { 'correlation-id': other, 'response-required': true },
      path: '/features/OtherFeature/inbox/messages/backup', value: {},
    });
    expect((await k.command('dance', {}))!.body.status).toBe(400);
    expect(k.probe.received.some((m) => m.body?.headers?.['correlation-id'] === other)).toBe(false);
  });
});

describe.skipIf(!url)('Kanto periodic backups: activate and deactivate', () => {
  let k: KantoUnderTest;
  const PERIOD_MS = 1500;
  beforeAll(async () => {
    k = await startKanto(url!, { periodMs: PERIOD_MS });
  });
  afterAll(async () => {
    await k?.close();
  });
  const autoUploads = () => k.probe.property(k.thingId, 'autoUpload');
  const started = () => k.probe.property(k.thingId, 'lastOperation').filter((v) => v.state === 'BACKUP_STARTED').map((v) => v.correlationId as string);

  it("activate runs a backup at once and then every period, each with Kanto's generated id and the two-step upload; deactivate stops them", async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const to = new Date(Date.now() + 120_000).toISOString();
    expect((await k.command('activate', { from, to }))!.body.status).toBe(204);
    await k.probe.waitFor('autoUpload active', () => autoUploads().some((v) => v.active === true));
    expect(autoUploads().at(-1)).toEqual({ active: true, startTime: new Date(from).toISOString(), endTime: new Date(to).toISOString() });

    await k.state('lastOperation', 'backup_restore-id-1', 'BACKUP_FINISHED');
    await k.probe.waitFor('the upload request of the first run', (m) => m.topic === 'e' && m.body?.path === '/features/BackupAndRestore/outbox/messages/request' && m.body.value?.correlationId === 'backup_restore-id-1#1');
    await k.state('lastOperation', 'backup_restore-id-2', 'BACKUP_FINISHED');
    const list = await k.core.backups.list(SYSTEM_ACTOR, { limit: 50, offset: 0 });
    expect(list.items.map((b) => b.label)).toEqual(expect.arrayContaining(['backup_restore-id-1', 'backup_restore-id-2']));

    expect((await k.command('deactivate', {}))!.body.status).toBe(204);
    await k.probe.waitFor('autoUpload inactive', () => autoUploads().at(-1)?.active === false);
    expect(autoUploads().at(-1)).toEqual({ active: false, startTime: null, endTime: null });
    // A run already going may finish; none starts after it.
    await new Promise((r) => setTimeout(r, 500));
    const before = started().length;
    await new Promise((r) => setTimeout(r, 2 * PERIOD_MS + 500));
    expect(started().length).toBe(before);
  });

  it('the period ends by itself at its end time', async () => {
    const seen = autoUploads().length;
    const now = Date.now();
    expect((await k.command('activate', { From: new Date(now).toISOString(), To: new Date(now + 500).toISOString() }))!.body.status).toBe(204);
    await k.probe.waitFor('autoUpload active, then inactive', () => autoUploads().slice(seen).some((v) => v.active) && autoUploads().at(-1)?.active === false);
    expect(autoUploads().at(-1)).toEqual({ active: false, startTime: null, endTime: null });
  });

  it("activate's error rows: an end before the start, times that are not RFC 3339 strings, a missing time", async () => {
    const expect400 = async (value: unknown, message: RegExp) => {
      const r = await k.command('activate', value);
      expect(r!.body).toMatchObject({ status: 400, value: { status: 400, error: 'messages:parameter.invalid' } });
      expect(r!.body.value.message).toMatch(message);
    };
    await expect400({ from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' }, /^period end - 2030-01-01T00:00:00Z -  is before period start - 2030-01-02T00:00:00Z$/);
    await expect400({ from: 1893456000, to: 1893542400 }, /^invalid 'activate' operation parameters: .*'from' must be an RFC 3339 time string/);
    await expect400({ from: '2030-01-01T00:00:00Z' }, /'to' must be an RFC 3339 time string/);
    await expect400({ from: 'tomorrow', to: '2030-01-01T00:00:00Z' }, /'from' must be an RFC 3339 time string/);
    await expect400(null, /must be an object/);
  });
});

describe.skipIf(!url)('Kanto thing id from edge/thing/response', () => {
  it('learns the thing id, answers on its topics, and re-announces the feature for a new id', async () => {
    const k = await startKanto(url!, { learn: true });
    try {
      expect(k.device.thingId).toBe(k.thingId);
      expect((await k.command('dance', {}))!.body.status).toBe(400);
      const next = `${k.thingId.split(':')[0]}x:device2`;
      await k.probe.client.subscribeAsync(`command//${next}/res/#`, { qos: 1 });
      await k.probe.publish('edge/thing/response', { deviceId: next, tenantId: 't' });
      await k.probe.waitFor('the feature for the new thing', (m) => m.topic === 'e' && m.body?.topic === `${next.replace(':', '/')}/things/twin/commands/modify` && m.body.path === '/features/BackupAndRestore');
      expect(k.device.thingId).toBe(next);
    } finally {
      await k.close();
    }
  });
});

describe.skipIf(!url)('Kanto over a connection that drops', () => {
  it('reconnects, subscribes again, re-announces the feature and answers', async () => {
    const broker = new URL(url!);
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((inbound) => {
      const upstream = net.connect(Number(broker.port || 1883), broker.hostname);
      for (const s of [inbound, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => (inbound.destroy(), upstream.destroy(), sockets.delete(s)));
      }
      inbound.pipe(upstream).pipe(inbound);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const k = await startKanto(url!, { deviceUrl: `mqtt://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    try {
      const features = () => k.probe.received.filter((m) => m.topic === 'e' && m.body?.topic?.startsWith(k.thingId.replace(':', '/')) && m.body.path === '/features/BackupAndRestore').length;
      expect(features()).toBe(1);
      for (const s of sockets) s.destroy();
      await k.probe.waitFor('the feature announced again', () => features() === 2);
      expect((await k.command('dance', {}))!.body.status).toBe(400);
    } finally {
      await k.close();
      proxy.close();
    }
  });
});
