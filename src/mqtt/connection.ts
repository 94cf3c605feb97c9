/**
 * The only module that touches mqtt.js: one client with a clean session, QoS 1 and automatic
 * reconnection. Subscriptions are made again by the caller on every `connect` (the session is
 * clean, so the broker forgot them), which also covers a broker that was down at start.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface MqttSettings {
  /** `mqtt://host:1883`, `mqtts://host:8883`, `ws://…`, `wss://…` */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM files for TLS: the broker's CA, and a client certificate with its key. */
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Accept a broker certificate that does not verify (self-signed, wrong name). */
  insecure?: boolean | undefined;
  /** Milliseconds between reconnection attempts (default 2000). */
  reconnectMs?: number | undefined;
}

export interface ConnectionEvents {
  /** Each (re)connection: subscribe and announce here. */
  onConnect(): void;
  onMessage(topic: string, payload: Buffer): void;
  log(msg: string, err?: unknown): void;
}

export class MqttConnection {
  private constructor(private readonly client: MqttClient) {}

  /** Starts connecting and returns at once: a broker that is down is retried for as long as the connection lives. */
  static open(s: MqttSettings, events: ConnectionEvents): MqttConnection {
    const client = mqtt.connect(s.url, clientOptions(s));
    let wasDown = false;
    client.on('connect', () => {
      events.log(`MQTT connected to ${safeUrl(s.url)}`);
      wasDown = false;
      events.onConnect();
    });
    client.on('message', (topic, payload) => events.onMessage(topic, payload));
    client.on('error', (err) => {
      // Reported once per outage: the client retries every few seconds and would flood the log.
      if (!wasDown) events.log(`${failureMessage(safeUrl(s.url), err)}; retrying`, err);
      wasDown = true;
    });
    client.on('offline', () => {
      if (!wasDown) events.log(`MQTT broker ${safeUrl(s.url)} is unreachable; retrying`);
      wasDown = true;
    });
    return new MqttConnection(client);
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async subscribe(topics: string[]): Promise<void> {
    if (topics.length) await this.client.subscribeAsync(topics, { qos: 1 });
  }

  async unsubscribe(topics: string[]): Promise<void> {
    if (topics.length) await this.client.unsubscribeAsync(topics);
  }

  /** QoS 1, not retained; while the broker is away, mqtt.js keeps the message and sends it on reconnection. */
  async publish(topic: string, payload: string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: false });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

function clientOptions(s: MqttSettings): IClientOptions {
  const o: IClientOptions = {
    clientId: `coffer-${randomUUID()}`,
    clean: true,
    keepalive: 30,
    reconnectPeriod: s.reconnectMs ?? 2000,
    connectTimeout: 10_000,
    // We subscribe on every connect ourselves; mqtt.js doing it too would double the subscriptions.
    resubscribe: false,
    // Without it mqtt.js stops for good after a refused CONNACK (wrong password, not authorised): a
    // device must keep trying, since the broker's users may be fixed while it runs.
    reconnectOnConnackError: true,
  };
  if (s.username !== undefined) o.username = s.username;
  if (s.password !== undefined) o.password = s.password;
  if (s.caFile) o.ca = readPem(s.caFile, 'CA');
  if (s.certFile) o.cert = readPem(s.certFile, 'client certificate');
  if (s.keyFile) o.key = readPem(s.keyFile, 'client key');
  if (s.insecure) o.rejectUnauthorized = false;
  return o;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the MQTT ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Node's codes for a server certificate that did not verify. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** What went wrong, in the words an operator acts on: the broker refused us, or we refused its certificate. */
function failureMessage(url: string, err: Error & { code?: unknown }): string {
  // mqtt.js reports a refused CONNACK with its reason code as a number (5 or 0x87: not authorised).
  if (typeof err.code === 'number' && err.message.startsWith('Connection refused')) {
    return `MQTT broker ${url} refused the connection (${err.message.replace(/^Connection refused:\s*/, '')}): check the MQTT user name, password or client certificate`;
  }
  if (typeof err.code === 'string' && UNTRUSTED_CERTIFICATE.has(err.code)) {
    return `MQTT connection to ${url} failed: the broker's certificate is not trusted (${err.message}); give the CA that signed it (--mqtt-ca) or accept it unverified (--mqtt-insecure)`;
  }
  if (typeof err.code === 'string' && err.code.endsWith('_ALERT_CERTIFICATE_REQUIRED')) {
    return `MQTT connection to ${url} failed: the broker wants a client certificate (--mqtt-cert, --mqtt-key)`;
  }
  return `MQTT connection to ${url} failed`;
}

/** The URL without credentials, for logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
