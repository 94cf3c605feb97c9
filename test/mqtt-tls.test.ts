/**
 * The Kanto device on a broker that wants TLS and credentials (a private Mosquitto): the broker's
 * CA with a user name and password, a client certificate on a mutual-TLS listener, a refused
 * password (logged, retried, recovered), an untrusted broker certificate (refused, or accepted as
 * insecure), and `coffer serve` with the --mqtt-* settings. No password ever reaches a log.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../src/core/index.js';
import { KantoDevice, type KantoSettings } from '../src/mqtt/index.js';
import { tempDir } from './helpers.js';
import { Probe, seedBackupExample, uniqueThingId, writeSample } from './mqtt-harness.js';
import { type ServerProcess, startServer, until } from './server-process.js';
import { type PrivateMosquitto, startPrivateMosquitto } from './support/mosquitto.js';

/** One Kanto device on the private broker, the probe that plays its backend, and every line it logged. */
interface Device {
  thingId: string;
  dir: string;
  probe: Probe;
  logs: string[];
  stop(): Promise<void>;
}

describe('Kanto over MQTT with TLS and broker credentials', () => {
  let broker: PrivateMosquitto | null;
  let core: Core;
  const work = tempDir('coffer-mqtt-tls-');
  /** Every device's log lines across the file: none may hold a password. */
  const allLogs: string[] = [];
  const devices: Device[] = [];
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    broker = await startPrivateMosquitto();
    core = await Core.start({ dataDir: path.join(work, 'data'), catalog: `sqlite:${path.join(work, 'coffer.db')}`, jobConcurrency: 1, engineWorkers: 0 });
  });
  afterAll(async () => {
    for (const d of devices) await d.stop();
    for (const s of servers) await s.stop();
    await core?.stop();
    await broker?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** A probe on the plain listener (with the broker's credentials), then a device with `mqtt`; waits for its feature unless told not to. */
  async function startDevice(mqtt: KantoSettings['mqtt'], o: { waitForFeature?: boolean } = {}): Promise<Device> {
    const b = broker!;
    const thingId = uniqueThingId();
    const dir = path.join(work, thingId.replace(/[^a-z0-9]/gi, '_'));
    writeSample(dir);
    const probe = await Probe.connect(b.plainUrl, [`command//${thingId}/res/#`, 'e'], { username: b.backendUsername, password: b.backendPassword });
    const logs: string[] = [];
    const device = KantoDevice.start(core, {
      mqtt: { reconnectMs: 300, ...mqtt }, thingId, featureId: 'BackupAndRestore', mode: 'strict', dir,
      storageDir: path.join(dir + '-kanto'), keepUploaded: false, periodMs: 10 * 3600_000, allowPrivateUrls: true, maxDownloadBytes: 1024 ** 3,
    }, (msg, err) => {
      // As much of the error as any log could show: message, stack, cause and own properties.
      const line = err === undefined ? msg : `${msg} ${inspect(err, { depth: 6 })}`;
      logs.push(line);
      allLogs.push(line);
      if (process.env['COFFER_TEST_LOG']) console.log(line);
    });
    const d: Device = { thingId, dir, probe, logs, stop: async () => {
      devices.splice(devices.indexOf(d), 1);
      await device.stop();
      await probe.close();
    } };
    devices.push(d);
    if (o.waitForFeature !== false) await featureOf(d);
    return d;
  }

  function featureOf(d: Device) {
    const topic = `${d.thingId.replace(':', '/')}/things/twin/commands/modify`;
    return d.probe.waitFor(`the feature of ${d.thingId}`, (m) => m.topic === 'e' && m.body?.topic === topic && m.body?.path === '/features/BackupAndRestore');
  }

  async function logLine(what: string, lines: () => string[], pattern: RegExp): Promise<string> {
    const end = Date.now() + 30_000;
    for (;;) {
      const hit = lines().find((l) => pattern.test(l));
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no log line for ${what} (${pattern}); logged:\n${lines().join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kanto's documentation's backup example, verbatim but for the ids and the directory; resolves when the backup finished. */
  async function seedBackup(d: Device): Promise<void> {
    const cid = `upload-id-${Date.now()}#n`;
    const correlation = randomUUID();
    await d.probe.publish(`command//${d.thingId}/req//backup`, seedBackupExample({ thingId: d.thingId, dir: d.dir, correlationId: cid, requestId: correlation }));
    const reply = await d.probe.waitFor('the answer to backup', (m) => m.body?.headers?.['correlation-id'] === correlation);
    expect(reply.topic).toBe(`command//${d.thingId}/res//backup`);
    expect(reply.body.status).toBe(204);
    await d.probe.waitFor('BACKUP_FINISHED', (m) => m.topic === 'e' && m.body?.path?.endsWith('/properties/lastOperation') && m.body.value?.correlationId === cid && m.body.value.state === 'BACKUP_FINISHED');
    // Kanto's two-step upload starts with a request event: the device publishes over TLS, too.
    await d.probe.waitFor('the upload request', (m) => m.topic === 'e' && m.body?.path === '/features/BackupAndRestore/outbox/messages/request' && m.body.value?.correlationId === `${cid}#1`);
  }

  it('mqtts with the broker CA and a user name and password: the seed\'s backup example works', async (ctx) => {
    if (!broker) return ctx.skip();
    const d = await startDevice({ url: broker.tlsUrl, caFile: broker.caFile, username: broker.username, password: broker.password });
    expect(d.logs).toContain(`MQTT connected to ${broker.tlsUrl}`);
    await seedBackup(d);
    await d.stop();
  });

  it('a client certificate on the mutual-TLS listener: the certificate is the identity; without one the broker refuses', async (ctx) => {
    if (!broker) return ctx.skip();
    const without = await startDevice({ url: broker.mutualTlsUrl, caFile: broker.caFile, username: broker.username, password: broker.password }, { waitForFeature: false });
    const line = await logLine('the missing client certificate', () => without.logs, /certificate required/);
    expect(line).toContain(`MQTT connection to ${broker.mutualTlsUrl} failed: the broker wants a client certificate`);
    await without.stop();

    const d = await startDevice({ url: broker.mutualTlsUrl, caFile: broker.caFile, certFile: broker.clientCertFile, keyFile: broker.clientKeyFile });
    await seedBackup(d);
    // The broker took the certificate's CN as the user (use_identity_as_username).
    expect(broker.log()).toMatch(new RegExp(`New client connected .* as coffer-[0-9a-f-]+ .*u'${broker.clientIdentity}'`));
    await d.stop();
  });

  it('a wrong password: the refusal is logged once, the device keeps retrying, and connects once the broker accepts it', async (ctx) => {
    if (!broker) return ctx.skip();
    const b = broker;
    const wrong = `wrong-${randomUUID()}`;
    const logMark = b.log().length;
    // Mosquitto names no client id for a refused CONNECT; this test's device is the only one refused meanwhile.
    const refusals = () => b.log().slice(logMark).match(/disconnected, not authori[sz]ed/g)?.length ?? 0;
    const d = await startDevice({ url: b.tlsUrl, caFile: b.caFile, username: b.username, password: wrong }, { waitForFeature: false });
    const line = await logLine('the refusal', () => d.logs, /Not authorized/);
    expect(line).toMatch(/refused the connection \(Not authorized\)/);
    // Retried after the refusal (mqtt.js gives up on a refused CONNACK unless told otherwise).
    await until('three refusals in the broker log', async () => refusals() >= 3, 30_000);
    expect(d.logs.filter((l) => /Not authorized/.test(l))).toHaveLength(1); // once per outage, not once per attempt
    // The broker now accepts that password: the same device connects and works.
    try {
      await b.setPassword(b.username, wrong);
      await featureOf(d);
      await seedBackup(d);
      await d.stop();
    } finally {
      await b.setPassword(b.username, b.password);
    }
    // A later, correct configuration works as well.
    const again = await startDevice({ url: b.tlsUrl, caFile: b.caFile, username: b.username, password: b.password });
    expect(allLogs.join('\n')).not.toContain(wrong);
    await again.stop();
  });

  it('an untrusted broker certificate without a CA fails with a clear log line; insecure connects', async (ctx) => {
    if (!broker) return ctx.skip();
    const b = broker;
    const refused = await startDevice({ url: b.tlsUrl, username: b.username, password: b.password }, { waitForFeature: false });
    const line = await logLine('the untrusted certificate', () => refused.logs, /certificate/);
    expect(line).toContain(b.tlsUrl);
    expect(line).toMatch(/not trusted/);
    expect(line).toMatch(/self-signed certificate in certificate chain/);
    await refused.stop();

    const insecure = await startDevice({ url: b.tlsUrl, username: b.username, password: b.password, insecure: true });
    await seedBackup(insecure);
    await insecure.stop();
  });

  it('credentials in the URL are used and never logged', async (ctx) => {
    if (!broker) return ctx.skip();
    const b = broker;
    const u = new URL(b.tlsUrl);
    u.username = b.username;
    u.password = b.password;
    const d = await startDevice({ url: u.toString(), caFile: b.caFile });
    expect(d.logs).toContain(`MQTT connected to ${b.tlsUrl}`);
    await d.stop();
  });

  it('coffer serve with --mqtt-ca, --mqtt-username and COFFER_MQTT_PASSWORD; a wrong --mqtt-password is refused without stopping the server', async (ctx) => {
    if (!broker) return ctx.skip();
    const b = broker;
    const thingId = uniqueThingId();
    const dir = path.join(work, 'serve-files');
    writeSample(dir);
    const probe = await Probe.connect(b.plainUrl, [`command//${thingId}/res/#`, 'e'], { username: b.backendUsername, password: b.backendPassword });
    try {
      const server = await startServer(['--data-dir', path.join(work, 'serve-data'), '--mqtt-url', b.tlsUrl, '--mqtt-ca', b.caFile,
        '--mqtt-username', b.username, '--kanto-thing-id', thingId, '--kanto-dir', dir, '--log-level', 'info'], { COFFER_MQTT_PASSWORD: b.password });
      servers.push(server);
      await probe.waitFor('the feature', (m) => m.topic === 'e' && m.body?.topic === `${thingId.replace(':', '/')}/things/twin/commands/modify` && m.body.path === '/features/BackupAndRestore');
      await seedBackup({ thingId, dir, probe, logs: [], stop: async () => undefined });
      expect(server.output()).toContain(`MQTT connected to ${b.tlsUrl}`);
      expect(server.output()).not.toContain(b.password);
    } finally {
      await probe.close();
    }

    const wrong = `wrong-${randomUUID()}`;
    const refused = await startServer(['--data-dir', path.join(work, 'serve-data2'), '--mqtt-url', b.tlsUrl, '--mqtt-ca', b.caFile,
      '--mqtt-username', b.username, '--mqtt-password', wrong, '--kanto-thing-id', uniqueThingId(), '--kanto-dir', dir, '--log-level', 'info']);
    servers.push(refused);
    await logLine('the refusal', () => refused.output().split('\n'), /Not authorized/);
    expect(refused.child.exitCode).toBeNull();
    expect(refused.output()).not.toContain(wrong);
  });

  it('no password appeared in any log line', (ctx) => {
    if (!broker) return ctx.skip();
    expect(allLogs.length).toBeGreaterThan(0);
    expect(allLogs.join('\n')).not.toContain(broker.password);
  });
});
