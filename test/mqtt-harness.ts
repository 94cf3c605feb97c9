/**
 * The MQTT adapter under test: a real Core (temp data directory) with a KantoDevice on the real
 * broker, and a probe client that plays the backend: it sends commands and collects answers and
 * events. Thing ids are unique per run, so parallel runs on the shared broker do not cross.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Core } from '../src/core/index.js';
import { KantoDevice, type KantoMode, type KantoSettings } from '../src/mqtt/index.js';
import { expect } from 'vitest';
import { type ManifestEntry, tempDir } from './helpers.js';

export interface Received {
  topic: string;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The backend's side: publishes commands, keeps everything it receives, waits for what a test expects. */
export class Probe {
  readonly received: Received[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      const text = payload.toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : text;
      } catch {
        // not JSON: keep the text
      }
      this.received.push({ topic, body });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** `options`: credentials or TLS settings for a broker that wants them. */
  static async connect(url: string, topics: string[], options: IClientOptions = {}): Promise<Probe> {
    const client = await mqtt.connectAsync(url, { clientId: `coffer-probe-${randomUUID()}`, clean: true, reconnectPeriod: 1000, ...options });
    await client.subscribeAsync(topics, { qos: 1 });
    return new Probe(client);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    await this.client.publishAsync(topic, typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), { qos: 1 });
  }

  /** The first message (from the start, not only new ones) that `pred` accepts. */
  async waitFor(what: string, pred: (m: Received) => boolean, timeoutMs = 90_000): Promise<Received> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received:\n${this.received.map((m) => `${m.topic} ${JSON.stringify(m.body)}`).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Events on `e` about one thing's feature property. */
  property(thingId: string, name: string): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    const topic = `${thingId.replace(':', '/')}/things/twin/commands/modify`;
    return this.received.filter((m) => m.topic === 'e' && m.body?.topic === topic && m.body?.path?.endsWith(`/properties/${name}`)).map((m) => m.body.value);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export interface KantoUnderTest {
  core: Core;
  device: KantoDevice;
  thingId: string;
  /** The configured directory (Kanto's dir), created with a few files. */
  dir: string;
  work: string;
  storageDir: string;
  probe: Probe;
  /** Sends a command on Kanto's documentation's topic (or Kanto's with `reqId`); resolves with its answer unless `noWait`. */
  command(op: string, value: unknown, o?: { reqId?: string; headers?: Record<string, unknown>; noWait?: boolean }): Promise<Received | undefined>;
  /** Waits for lastOperation / lastUpload to reach `state` for this correlation id. */
  state(property: 'lastOperation' | 'lastUpload', correlationId: string, state: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

export function uniqueThingId(): string {
  return `coffer.test${randomBytes(4).toString('hex')}:device`;
}

export interface KantoOptions {
  mode?: KantoMode;
  /** Set (default) or learned from edge/thing/response (`learn`). */
  learn?: boolean;
  noDir?: boolean;
  keepUploaded?: boolean;
  /** Time between periodic backups after `activate` (default Kanto's 10 h). */
  periodMs?: number;
  core?: Core;
  /** The device's broker URL when it differs from the probe's (a proxy in between). */
  deviceUrl?: string;
  /** Transfers to loopback and private addresses (default true here: the tests' receivers listen on 127.0.0.1). */
  allowPrivateUrls?: boolean;
  /** Largest download a restore accepts (default 1 GiB). */
  maxDownloadBytes?: number;
}

export async function startKanto(url: string, o: KantoOptions = {}): Promise<KantoUnderTest> {
  const work = tempDir('coffer-kanto-');
  const thingId = uniqueThingId();
  const dir = path.join(work, 'device-files');
  writeSample(dir);
  const core = o.core ?? await Core.start({ dataDir: path.join(work, 'data'), catalog: `sqlite:${path.join(work, 'coffer.db')}`, jobConcurrency: 1, engineWorkers: 0 });
  const probe = await Probe.connect(url, [`command//${thingId}/res/#`, 'command///res/#', 'e', ...(o.learn ? ['edge/thing/request'] : [])]);
  const storageDir = path.join(work, 'kanto');
  const settings: KantoSettings = {
    mqtt: { url: o.deviceUrl ?? url, reconnectMs: 500 }, featureId: 'BackupAndRestore', mode: o.mode ?? 'strict', storageDir, keepUploaded: o.keepUploaded ?? false,
    periodMs: o.periodMs ?? 10 * 3600_000,
    allowPrivateUrls: o.allowPrivateUrls ?? true, maxDownloadBytes: o.maxDownloadBytes ?? 1024 ** 3,
    ...(o.learn ? {} : { thingId }), ...(o.noDir ? {} : { dir }),
  };
  const device = KantoDevice.start(core, settings, (msg, err) => {
    if (process.env['COFFER_TEST_LOG']) console.log(msg, err ?? '');
  });
  const thingTopic = `${thingId.replace(':', '/')}/things/twin/commands/modify`;
  if (o.learn) {
    await probe.waitFor('the device asking for its thing id', (m) => m.topic === 'edge/thing/request');
    await probe.publish('edge/thing/response', { deviceId: thingId, tenantId: 'test-tenant', policyId: 'p' });
  }
  // The feature is announced after the subscriptions are made: from then on commands arrive.
  await probe.waitFor('the feature', (m) => m.topic === 'e' && m.body?.topic === thingTopic && m.body?.path === '/features/BackupAndRestore');

  const command: KantoUnderTest['command'] = async (op, value, c = {}) => {
    const correlationId = randomUUID();
    const topic = c.reqId !== undefined ? `command///req/${c.reqId}/${op}` : `command//${thingId}/req//${op}`;
    await probe.publish(topic, {
      topic: `${thingId.replace(':', '/')}/things/live/messages/${op}`,
      headers: { 'response-required': true, 'content-type': 'application/json', 'correlation-id': correlationId, ...c.headers },
      path: `/features/BackupAndRestore/inbox/messages/${op}`,
      value,
    });
    if (c.noWait) return undefined;
    return probe.waitFor(`the answer to ${op}`, (m) => m.topic.startsWith('command/') && m.body?.headers?.['correlation-id'] === correlationId);
  };
  const state: KantoUnderTest['state'] = async (property, correlationId, s) => {
    await probe.waitFor(`${property} ${s} of ${correlationId}`, () => probe.property(thingId, property).some((v) => v.correlationId === correlationId && v.state === s));
    return probe.property(thingId, property).find((v) => v.correlationId === correlationId && v.state === s);
  };
  return {
    core, device, thingId, dir, work, storageDir, probe, command, state,
    async close() {
      await device.stop();
      await probe.close();
      if (!o.core) await core.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/** A small tree with a nested and an empty directory. */
export function writeSample(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub', 'deeper'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'empty'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(dir, 'sub', 'b.bin'), randomBytes(70_000));
  fs.writeFileSync(path.join(dir, 'sub', 'deeper', 'c.txt'), 'gamma '.repeat(1000));
}

/**
 * Kanto's documented backup request (its "Backup" example) as its text stands, with the thing, the
 * directory and the ids filled in: replayed verbatim, tabs and all.
 */
export function seedBackupExample(o: { thingId: string; dir: string; correlationId: string; requestId: string }): string {
  return `{
	"topic":"${o.thingId.replace(':', '/')}/things/live/messages/backup",
	"headers":{
		"response-required":true,
		"content-type":"application/json",
		"correlation-id":"${o.requestId}"
	},
	"path":"/features/BackupAndRestore/inbox/messages/backup",
	"value":{
		"correlationID":"${o.correlationId}",
		"providers":{},
		"options":{
			"backup.dir":"${o.dir}",
			"https.url":""
		}
	}
}`;
}

/** A restored tree holds the same paths as `before`, of the same types, files with the same content (Kanto's ZIPs keep no times). */
export function expectSameFiles(after: Record<string, ManifestEntry>, before: Record<string, ManifestEntry>): void {
  expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
  for (const [rel, e] of Object.entries(before)) {
    expect(after[rel]?.type, rel).toBe(e.type);
    if (e.type === 'file') expect(after[rel]?.sha256, rel).toBe(e.sha256);
  }
}
