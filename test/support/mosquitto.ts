/**
 * A private Mosquitto for TLS and credential tests (the machine's broker has neither): a CA made
 * with the openssl CLI signs the server's certificate (for 127.0.0.1) and a client certificate;
 * three listeners on free loopback ports share one password file and refuse anonymous clients:
 *  - plain TCP (user name and password): for the probe that plays the backend, with its own user so
 *    that changing the device's password does not disconnect it (Mosquitto re-checks clients on reload);
 *  - TLS (user name and password);
 *  - mutual TLS (`require_certificate`): the client certificate's CN is the user name, no password.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort, unavailable } from './services.js';

const run = promisify(execFile);
const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

export interface PrivateMosquitto {
  /** `mqtt://127.0.0.1:<port>`: credentials required. */
  readonly plainUrl: string;
  /** `mqtts://127.0.0.1:<port>`: the server certificate from `caFile`, credentials required. */
  readonly tlsUrl: string;
  /** `mqtts://127.0.0.1:<port>`: a client certificate signed by `caFile` required (its CN is the user). */
  readonly mutualTlsUrl: string;
  /** PEM files. */
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The client certificate's CN, which the mutual-TLS listener takes as the user name. */
  readonly clientIdentity: string;
  /** The device's user. */
  readonly username: string;
  readonly password: string;
  /** Another user, for the backend's side (the probe). */
  readonly backendUsername: string;
  readonly backendPassword: string;
  /** The broker's log (connections, refusals): what it saw, for assertions. */
  log(): string;
  /** Sets (or adds) one user's password and makes the broker read the file again (SIGHUP). */
  setPassword(username: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one broker in a temp dir; null (skip outside CI) when Mosquitto or openssl is missing. */
export async function startPrivateMosquitto(): Promise<PrivateMosquitto | null> {
  for (const bin of [MOSQUITTO, MOSQUITTO_PASSWD]) {
    if (!fs.existsSync(bin)) return unavailable(`${bin} is not installed (Debian package mosquitto)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-mosquitto-'));
  const file = (name: string) => path.join(dir, name);
  try {
    await makeCertificates(dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    return unavailable(`openssl could not make the test certificates: ${(err as Error).message}`);
  }
  const username = 'coffer-device';
  // Distinctive: tests search logs for it, and nothing else may match by chance.
  const password = `pw-${Date.now().toString(36)}-S3cr3t`;
  const backendUsername = 'coffer-backend';
  const backendPassword = `backend-${Date.now().toString(36)}`;
  const passwordFile = file('passwords');
  await run(MOSQUITTO_PASSWD, ['-b', '-c', passwordFile, backendUsername, backendPassword]);
  await setPasswordIn(passwordFile, username, password);

  const [plain, tls, mutual] = [await freePort(), await freePort(), await freePort()];
  const logFile = file('mosquitto.log');
  const tlsFiles = `cafile ${file('ca.pem')}\ncertfile ${file('server.pem')}\nkeyfile ${file('server.key')}\n`;
  fs.writeFileSync(file('mosquitto.conf'), [
    // Run as root in a root-owned temp dir: without this, Mosquitto drops to the 'mosquitto' user and cannot read it.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'persistence false',
    `log_dest file ${logFile}`,
    'log_type all',
    'connection_messages true',
    'allow_anonymous false',
    `password_file ${passwordFile}`,
    `listener ${plain} 127.0.0.1`,
    `listener ${tls} 127.0.0.1`,
    tlsFiles,
    `listener ${mutual} 127.0.0.1`,
    tlsFiles,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ].join('\n'));

  const child: ChildProcess = spawn(MOSQUITTO, ['-c', file('mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  let up = false;
  while (!up && Date.now() < deadline && child.exitCode === null) {
    up = (await connects(plain)) && (await connects(tls)) && (await connects(mutual));
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  if (!up) {
    child.kill('SIGKILL');
    const why = `${output}${readLog()}`.trim() || 'no answer on its ports';
    fs.rmSync(dir, { recursive: true, force: true });
    return unavailable(`the private Mosquitto did not start: ${why}`);
  }

  return {
    plainUrl: `mqtt://127.0.0.1:${plain}`,
    tlsUrl: `mqtts://127.0.0.1:${tls}`,
    mutualTlsUrl: `mqtts://127.0.0.1:${mutual}`,
    caFile: file('ca.pem'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    clientIdentity: CLIENT_CN,
    username,
    password,
    backendUsername,
    backendPassword,
    log: readLog,
    async setPassword(user, pass) {
      await setPasswordIn(passwordFile, user, pass);
      child.kill('SIGHUP');
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CLIENT_CN = 'coffer-tls-client';

/** ca.pem/ca.key → server.pem/server.key (127.0.0.1) and client.pem/client.key (CN coffer-tls-client). */
async function makeCertificates(dir: string): Promise<void> {
  const f = (name: string) => path.join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Coffer test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  const sign = async (name: string, subject: string, ext: string) => {
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    fs.writeFileSync(f(`${name}.ext`), ext);
    await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  };
  await sign('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await sign('client', `/CN=${CLIENT_CN}`, 'extendedKeyUsage=clientAuth\n');
}

async function setPasswordIn(file: string, username: string, password: string): Promise<void> {
  await run(MOSQUITTO_PASSWD, ['-b', file, username, password]);
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
