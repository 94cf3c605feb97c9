import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleartextWarning, isLoopbackAddress, loadTlsFiles } from './tls.js';

describe('TLS files', () => {
  it('loads a certificate and its key, and names the file that does not load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-tls-'));
    try {
      const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=coffer.example',
        '-keyout', files.key, '-out', files.cert], { stdio: 'ignore' });
      const m = loadTlsFiles(files);
      expect(m.cert.toString()).toContain('BEGIN CERTIFICATE');
      expect(m.describe).toMatch(/^CN=coffer\.example, valid until .+, SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(() => loadTlsFiles({ ...files, key: path.join(dir, 'absent.pem') })).toThrow(/cannot read the TLS key .*absent\.pem/);
      // A key that does not belong to the certificate (another key pair's: a damaged key may still parse).
      execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path.join(dir, 'other.pem')], { stdio: 'ignore' });
      expect(() => loadTlsFiles({ ...files, key: path.join(dir, 'other.pem') })).toThrow(/are not usable/);
      // The key alone, given as the certificate: no certificate in it.
      expect(() => loadTlsFiles({ cert: files.key, key: files.key })).toThrow(/are not usable/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the clear-text warning', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'fe80::1', '128.0.0.1']) expect(isLoopbackAddress(a), a).toBe(false);
  });

  it('warns of plain HTTP beyond loopback unless TLS or a proxy in front encrypts', () => {
    expect(cleartextWarning({ address: '0.0.0.0', tls: false, trustProxy: false })).toMatch(/passwords and API keys would cross the network in clear.*docs\/exposing\.md/);
    expect(cleartextWarning({ address: '::', tls: false, trustProxy: false })).toMatch(/listening on :: over plain HTTP/);
    expect(cleartextWarning({ address: '0.0.0.0', tls: true, trustProxy: false })).toBeUndefined();
    expect(cleartextWarning({ address: '0.0.0.0', tls: false, trustProxy: true })).toBeUndefined();
    expect(cleartextWarning({ address: '127.0.0.1', tls: false, trustProxy: false })).toBeUndefined();
  });
});
