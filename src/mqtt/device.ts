/**
 * Coffer as Eclipse Kanto's File Backup device: connects to the broker, learns or takes its thing
 * id, announces the BackupAndRestore feature, reads commands from both topic styles and answers
 * them with Ditto envelopes. Nothing a client sends can crash it: every failure is an answer or a
 * log line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Actor, Core } from '../core/index.js';
import { MqttConnection } from './connection.js';
import { type Continuation, type DeviceContext, type KantoSettings, errorMessage } from './context.js';
import { type DittoEnvelope, type ErrorValue, answer, readCommand } from './envelope.js';
import { type StatusProperty, StatusTracker, type StatusValue, featureCreation, propertyModify } from './feature.js';
import { Operations } from './operations.js';
import { OperationError, executionFailed, parameterInvalid, readParams } from './params.js';
import { PeriodicBackups } from './periodic-backups.js';
import {
  type CommandRoute, EDGE_THING_REQUEST, EDGE_THING_RESPONSE, EVENT_TOPIC, KANTO_COMMANDS,
  dittoThingTopic, isThingId, parseCommandTopic, replyTopic, seedCommands, thingIdOfDittoTopic,
} from './topics.js';
import { Uploads } from './uploads.js';

export class KantoDevice {
  private connection: MqttConnection | undefined;
  private thing: string | undefined;
  private tenant: string | undefined;
  private readonly stopping = new AbortController();
  private readonly ctx: DeviceContext;
  private readonly uploads: Uploads;
  private readonly operations: Operations;
  private readonly periodic: PeriodicBackups;

  private constructor(core: Core, private readonly settings: KantoSettings, private readonly log: (msg: string, err?: unknown) => void) {
    this.thing = settings.thingId;
    const send = (name: StatusProperty, value: StatusValue) => {
      if (this.thing) this.publishEvent(propertyModify(this.thing, settings.featureId, name, value));
    };
    this.ctx = {
      core, settings, log, signal: this.stopping.signal,
      actor: (): Actor => ({ name: `mqtt:${this.thing ?? 'unknown'}`, role: 'admin', service: true }),
      lastOperation: new StatusTracker('lastOperation', send),
      lastUpload: new StatusTracker('lastUpload', send),
      publishEvent: (env) => this.publishEvent(env),
      thingId: () => this.thing ?? '',
      tenantId: () => this.tenant,
    };
    this.uploads = new Uploads(this.ctx);
    this.operations = new Operations(this.ctx, this.uploads);
    this.periodic = new PeriodicBackups(settings.periodMs, () => this.operations.backup(readParams('backup', null)), (value) => {
      if (this.thing) this.publishEvent(propertyModify(this.thing, settings.featureId, 'autoUpload', value));
    }, log);
  }

  /** Connects in the background: a broker that is down is retried, and `start` returns at once. */
  static start(core: Core, settings: KantoSettings, log: (msg: string, err?: unknown) => void): KantoDevice {
    if (settings.thingId !== undefined && !isThingId(settings.thingId)) throw new Error(`the Kanto thing id must be namespace:name, got '${settings.thingId}'`);
    for (const sub of ['backups', 'downloads']) fs.mkdirSync(path.join(settings.storageDir, sub), { recursive: true });
    const device = new KantoDevice(core, settings, log);
    device.connection = MqttConnection.open(settings.mqtt, {
      onConnect: () => void device.connected(),
      onMessage: (topic, payload) => void device.received(topic, payload).catch((err: unknown) => log(`MQTT message on ${topic} could not be handled`, err)),
      log,
    });
    return device;
  }

  /** The thing id in use (configured or learned), if any yet. */
  get thingId(): string | undefined {
    return this.thing;
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('Coffer is shutting down'));
    this.periodic.stop();
    this.uploads.stop();
    await this.connection?.close();
  }

  private async connected(): Promise<void> {
    const c = this.connection;
    if (!c) return;
    try {
      await c.subscribe([KANTO_COMMANDS, ...(this.thing ? [seedCommands(this.thing)] : []), ...(this.settings.thingId ? [] : [EDGE_THING_RESPONSE])]);
      if (!this.settings.thingId) await c.publish(EDGE_THING_REQUEST, '');
      if (this.thing) this.announce();
    } catch (err) {
      this.log('MQTT subscription failed; it is made again at the next connection', err);
    }
  }

  /** The feature, then the status properties it had (the creation replaced them in the twin). */
  private announce(): void {
    if (!this.thing) return;
    this.publishEvent(featureCreation(this.thing, this.settings.featureId, this.periodic.value));
    this.ctx.lastOperation.republish();
    this.ctx.lastUpload.republish();
  }

  private async learnThing(payload: Buffer): Promise<void> {
    let info: unknown;
    try {
      info = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log(`ignored a message on ${EDGE_THING_RESPONSE} that is not JSON`);
      return;
    }
    const deviceId = (info as { deviceId?: unknown } | null)?.deviceId;
    if (!isThingId(deviceId)) {
      this.log(`ignored a message on ${EDGE_THING_RESPONSE} without a deviceId of the form namespace:name`);
      return;
    }
    const tenantId = (info as { tenantId?: unknown }).tenantId;
    this.tenant = typeof tenantId === 'string' ? tenantId : undefined;
    if (deviceId === this.thing) return;
    const old = this.thing;
    this.thing = deviceId;
    this.log(`Kanto thing id ${deviceId}${old ? ` (was ${old})` : ''}`);
    const c = this.connection;
    if (!c) return;
    try {
      if (old) await c.unsubscribe([seedCommands(old)]);
      await c.subscribe([seedCommands(deviceId)]);
    } catch (err) {
      this.log(`MQTT subscription for thing ${deviceId} failed`, err);
    }
    this.announce();
  }

  private async received(topic: string, payload: Buffer): Promise<void> {
    if (topic === EDGE_THING_RESPONSE) return this.learnThing(payload);
    const route = parseCommandTopic(topic);
    if (!route) return;
    const thing = this.thing;
    if (!thing) {
      this.log(`dropped a command on ${topic}: the thing id is not known yet (no answer on ${EDGE_THING_RESPONSE})`);
      return;
    }
    // Seed-style topics name the device; another device's commands are not ours.
    if (route.device !== '' && route.device !== thing) return;
    const read = readCommand(payload, thing, this.settings.featureId, thingIdOfDittoTopic);
    if (read.kind === 'ignore') return;
    if (read.kind === 'invalid') {
      this.log(`invalid command on ${topic}: ${read.why}`);
      if (read.responseRequired) {
        const topicOf = read.topic ?? dittoThingTopic(thing, `live/messages/${route.command}`);
        const pathOf = read.path ?? `/features/${this.settings.featureId}/inbox/messages/${route.command}`;
        this.reply(route, answer(topicOf, pathOf, read.correlationId, 400, parameterInvalid(400, `invalid Ditto envelope: ${read.why}`).value));
      }
      return;
    }
    const m = read.message;
    let next: Continuation;
    let error: ErrorValue | undefined;
    try {
      next = await this.dispatch(m.operation, m.value);
    } catch (err) {
      if (err instanceof OperationError) error = err.value;
      else {
        this.log(`Kanto ${m.operation} failed`, err);
        error = executionFailed(500, errorMessage(err)).value;
      }
    }
    if (error && error.status >= 500) this.log(`Kanto ${m.operation} answered ${error.status}: ${error.message}`);
    if (m.responseRequired) this.reply(route, answer(m.topic, m.path, m.correlationId, error?.status ?? 204, error));
    if (!error && next) void next().catch((err: unknown) => this.log(`Kanto ${m.operation} failed after its answer`, err));
  }

  private async dispatch(operation: string, value: unknown): Promise<Continuation> {
    switch (operation) {
      case 'backup': return this.operations.backup(readParams(operation, value));
      case 'restore': return this.operations.restore(readParams(operation, value));
      case 'start': return this.uploads.start(readParams(operation, value));
      case 'cancel': return this.uploads.cancel(readParams(operation, value));
      case 'trigger': return this.uploads.trigger(readParams(operation, value));
      case 'activate': return this.periodic.activate(value);
      case 'deactivate': return this.periodic.deactivate();
      default: throw parameterInvalid(400, `Unsupported operation '${operation}'!`);
    }
  }

  private reply(route: CommandRoute, env: DittoEnvelope): void {
    this.publish(replyTopic(route, env.status ?? 204), env);
  }

  private publishEvent(env: DittoEnvelope): void {
    this.publish(EVENT_TOPIC, env);
  }

  private publish(topic: string, env: DittoEnvelope): void {
    // Operations interrupted by the shutdown end after the connection closed: nothing to tell anyone.
    if (this.stopping.signal.aborted) return;
    this.connection?.publish(topic, JSON.stringify(env)).catch((err: unknown) => this.log(`MQTT publish on ${topic} failed`, err));
  }
}
