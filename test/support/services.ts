/**
 * Starting the real servers that object-storage and MQTT tests talk to, and the rule for when they are
 * missing: in CI (`CI` set) a missing server fails the test run loudly; outside CI the caller skips with
 * the printed reason.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

/** Throws in CI; outside CI prints why and returns null so that the caller can skip. */
export function unavailable(why: string): null {
  if (process.env['CI']) throw new Error(`${why} (CI is set, so this cannot be skipped)`);
  console.warn(`SKIPPED: ${why}`);
  return null;
}

/** A free TCP port on loopback (and, with `alsoPlus`, that port + alsoPlus free as well: Ceph's monitor). */
export async function freePort(alsoPlus?: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (alsoPlus === undefined) return port;
    if (port + alsoPlus < 65536 && (await listenOnce(port + alsoPlus).then(() => true, () => false))) return port;
  }
  throw new Error('no free port pair on 127.0.0.1');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

// --- S3: Ceph's RADOS Gateway ----------------------------------------------------------------

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** RGW accepts any region name; the SDK needs one. */
  readonly region: string;
  stop(): Promise<void>;
}

/**
 * Starts a single-node Ceph with the RADOS Gateway (test/support/ceph-s3.sh: about 20 s, 0.6 GB, data in
 * memory) on a free port. Each caller gets its own server; stop it in afterAll.
 */
export async function startCephS3(): Promise<S3Server | null> {
  const script = path.join(HERE, 'ceph-s3.sh');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-ceph-'));
  const port = await freePort(1000);
  let out: string;
  try {
    out = (await run(script, ['start', dir, String(port)], { timeout: 240_000 })).stdout;
  } catch (err) {
    await run(script, ['stop', dir]).catch(() => {});
    const e = err as { stderr?: string; message: string };
    return unavailable(`the S3 server (Ceph RGW) did not start: ${(e.stderr || e.message).trim()}`);
  }
  const fields = Object.fromEntries(out.trim().split(/\s+/).map((kv) => kv.split('=') as [string, string]));
  return {
    endpoint: fields['endpoint']!,
    accessKeyId: fields['access_key']!,
    secretAccessKey: fields['secret_key']!,
    region: 'us-east-1',
    async stop() {
      await run(script, ['stop', dir]).catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- Azure Blob: Azurite ---------------------------------------------------------------------

export interface AzureServer {
  /** `http://127.0.0.1:<port>/devstoreaccount1`: the account's blob endpoint, path style. */
  readonly blobEndpoint: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** A connection string for @azure/storage-blob. */
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** Azurite's well-known development account (documented by Microsoft; not a secret). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Starts Azurite's blob service in memory on a free port (telemetry off: this machine has no way out). */
export async function startAzurite(): Promise<AzureServer | null> {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'azurite-blob');
  if (!fs.existsSync(bin)) return unavailable('Azurite is not installed (npm ci installs it as a devDependency)');
  const port = await freePort();
  const child = spawn(bin, ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--disableTelemetry', '--silent', '--skipApiVersionCheck', '--loose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await connects(port)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (child.exitCode !== null || !(await connects(port))) {
    child.kill('SIGKILL');
    return unavailable(`Azurite did not start: ${stderr.trim() || 'no answer on its port'}`);
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

// --- MQTT: the machine's Mosquitto -----------------------------------------------------------

export const MQTT_URL = process.env['COFFER_TEST_MQTT'] ?? 'mqtt://127.0.0.1:1883';

/** Whether the broker answers on its port; null (skip outside CI) when it does not. */
export async function requireMosquitto(): Promise<string | null> {
  const u = new URL(MQTT_URL);
  if (await connects(Number(u.port || 1883))) return MQTT_URL;
  return unavailable(`no MQTT broker at ${MQTT_URL} (restart Mosquitto: mosquitto -d -c /etc/mosquitto/mosquitto.conf)`);
}

// --- A self-signed certificate for loopback HTTPS servers ------------------------------------

export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
}

/** A fresh self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export async function selfSignedCertificate(): Promise<TestCertificate> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cert-'));
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
