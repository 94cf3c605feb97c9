/**
 * `coffer serve --tls-cert --tls-key` as a real process on loopback: it serves HTTPS with the
 * certificate given, takes a new one on SIGHUP for new connections, keeps the one it has when the
 * new files do not load, refuses plain HTTP on its port, and does not start with one flag alone
 * or with files that are not a certificate and its key.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { type ServerProcess, startServer, until } from './server-process.js';
import { type TestCertificate, selfSignedCertificate } from './support/services.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
}

/** One request on a new connection (no agent: no reused session), trusting only `ca`. */
function get(url: string, ca: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, agent: false }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

const fingerprintOf = (c: TestCertificate): string => new X509Certificate(c.cert).fingerprint256;

describe('coffer serve over HTTPS', () => {
  let dir: string;
  let cert1: TestCertificate;
  let cert2: TestCertificate;
  let certFile: string;
  let keyFile: string;
  let server: ServerProcess;

  const install = (c: TestCertificate): void => {
    fs.writeFileSync(certFile, c.cert);
    fs.writeFileSync(keyFile, c.key);
  };
  const count = (text: string): number => server.output().split(text).length - 1;
  /** Sends SIGHUP and waits for the server to log the outcome (one more `logged` line than before). */
  const hangUp = async (logged: string): Promise<void> => {
    const before = count(logged);
    server.child.kill('SIGHUP');
    await until(`"${logged}" after SIGHUP`, async () => count(logged) > before, 30_000);
  };

  beforeAll(async () => {
    dir = tempDir('coffer-https-');
    [cert1, cert2] = await Promise.all([selfSignedCertificate(), selfSignedCertificate()]);
    certFile = path.join(dir, 'cert.pem');
    keyFile = path.join(dir, 'key.pem');
    install(cert1);
    server = await startServer(['--log-level', 'info', '--data-dir', path.join(dir, 'data'), '--tls-cert', certFile, '--tls-key', keyFile]);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('announces an https:// address and presents the certificate given', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(`${server.url}/healthz`, cert1.cert);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: 'ok' });
    expect(r.fingerprint).toBe(fingerprintOf(cert1));
    expect(fingerprintOf(cert1)).not.toBe(fingerprintOf(cert2));
    // On loopback nobody else can listen in: no clear-text warning (and with TLS there is none anyway).
    expect(server.output()).not.toContain('in clear');
  });

  it('serves the front page over HTTPS without credentials', async () => {
    const r = await get(`${server.url}/`, cert1.cert);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toContain('href="/docs"');
  });

  it('refuses plain HTTP on its port', async () => {
    const port = new URL(server.url).port;
    const plain = await new Promise<string>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/healthz`, (res) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      });
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    expect(plain).toMatch(/^error /);
  });

  it('takes new certificate files on SIGHUP for new connections', async () => {
    install(cert2);
    await hangUp('TLS certificate reloaded');
    const r = await get(`${server.url}/healthz`, cert2.cert);
    expect(r.status).toBe(200);
    expect(r.fingerprint).toBe(fingerprintOf(cert2));
    // A client that trusts only the old certificate no longer connects.
    await expect(get(`${server.url}/healthz`, cert1.cert)).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('keeps the certificate it has when the files no longer load, and logs an error', async () => {
    fs.writeFileSync(certFile, 'not a certificate\n');
    await hangUp('TLS reload on SIGHUP failed');
    expect(server.output()).toMatch(/"level":"error"[^\n]*TLS reload on SIGHUP failed; still serving the previous certificate[^\n]*cert\.pem/);
    const r = await get(`${server.url}/healthz`, cert2.cert);
    expect(r.status).toBe(200);
    expect(r.fingerprint).toBe(fingerprintOf(cert2));
    // A key that does not belong to the certificate is refused alike.
    fs.writeFileSync(certFile, cert1.cert);
    fs.writeFileSync(keyFile, cert2.key);
    await hangUp('TLS reload on SIGHUP failed');
    expect((await get(`${server.url}/healthz`, cert2.cert)).fingerprint).toBe(fingerprintOf(cert2));
    expect(server.child.exitCode).toBeNull();
  });

  it('does not start with one of the two settings alone, or with files that do not load', async () => {
    const data = path.join(dir, 'data-refused');
    const starts = (args: string[], env: Record<string, string> = {}) => startServer(['--data-dir', data, ...args], env);
    const missing = path.join(dir, 'missing.pem');
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a certificate\n');
    // Each refusal is a process start: run them side by side.
    await Promise.all([
      expect(starts(['--tls-cert', certFile])).rejects.toThrow(/exited \(1\)[\s\S]*--tls-cert needs --tls-key/),
      // The variables are settings like the flags.
      expect(starts([], { COFFER_TLS_KEY: keyFile })).rejects.toThrow(/exited \(1\)[\s\S]*--tls-key needs --tls-cert/),
      expect(starts(['--tls-cert', missing, '--tls-key', keyFile])).rejects.toThrow(/exited \(1\)[\s\S]*cannot read the TLS certificate [^\n]*missing\.pem/),
      expect(starts(['--tls-cert', garbage, '--tls-key', keyFile])).rejects.toThrow(/exited \(1\)[\s\S]*garbage\.pem[^\n]*not usable/),
    ]);
    // Refused before anything was made: no data directory.
    expect(fs.existsSync(data)).toBe(false);
  });
});
