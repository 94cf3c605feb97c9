import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from './exit-codes.js';
import { envName, resolveServeConfig } from './serve-config.js';

describe('serve settings', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cfg-'));
  const file = path.join(dir, 'coffer.json');
  fs.writeFileSync(file, JSON.stringify({ port: 9001, host: '0.0.0.0', 'max-backups-per-account': 25, logLevel: 'warn' }));

  it('has defaults', () => {
    const c = resolveServeConfig({}, {});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, role: 'all', jobs: 2, 'data-dir': path.resolve('coffer-data') });
  });

  it('takes flags over variables over the config file', () => {
    const env = { COFFER_CONFIG: file, COFFER_PORT: '9002', COFFER_ADMIN_PASSWORD: 'pw' };
    expect(resolveServeConfig({}, env)).toMatchObject({ port: 9002, host: '0.0.0.0', 'max-backups-per-account': 25, 'log-level': 'warn', adminPassword: 'pw' });
    expect(resolveServeConfig({ port: '9003' }, env).port).toBe(9003);
    expect(resolveServeConfig({ config: file }, {}).port).toBe(9001);
  });

  it('names variables after flags', () => {
    expect(envName('data-dir')).toBe('COFFER_DATA_DIR');
    expect(envName('max-backups-per-instance')).toBe('COFFER_MAX_BACKUPS_PER_INSTANCE');
  });

  it('refuses bad values with the setting named', () => {
    expect(() => resolveServeConfig({ port: 'eighty' }, {})).toThrow(/--port: port must be a whole number/);
    expect(() => resolveServeConfig({}, { COFFER_JOBS: '-1' })).toThrow(UsageError);
    expect(() => resolveServeConfig({ role: 'boss' }, {})).toThrow(/role must be/);
    expect(() => resolveServeConfig({ kantoPeriod: 'daily' }, {})).toThrow(/kanto-period: 'daily' is not a duration/);
    expect(() => resolveServeConfig({ kantoPeriod: '0s' }, {})).toThrow(/kanto-period: it must be longer than 0/);
    expect(resolveServeConfig({ kantoPeriod: '1h30m' }, {})['kanto-period']).toBe('1h30m');
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"prot": 1}');
    expect(() => resolveServeConfig({ config: path.join(dir, 'bad.json') }, {})).toThrow(/unknown setting prot/);
    fs.writeFileSync(path.join(dir, 'broken.json'), '{');
    expect(() => resolveServeConfig({ config: path.join(dir, 'broken.json') }, {})).toThrow(/not valid JSON/);
  });

  it('takes the TLS certificate and key from flags, variables or the config file, both or neither', () => {
    fs.writeFileSync(path.join(dir, 'tls.json'), JSON.stringify({ tlsCert: '/etc/coffer/cert.pem', 'tls-key': '/etc/coffer/key.pem' }));
    expect(resolveServeConfig({ config: path.join(dir, 'tls.json') }, {})).toMatchObject({ 'tls-cert': '/etc/coffer/cert.pem', 'tls-key': '/etc/coffer/key.pem' });
    expect(resolveServeConfig({ tlsCert: 'c.pem' }, { COFFER_TLS_KEY: 'k.pem' })).toMatchObject({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem' });
    expect(resolveServeConfig({}, {})['tls-cert']).toBeUndefined();
    expect(() => resolveServeConfig({ tlsCert: 'c.pem' }, {})).toThrow(/--tls-cert needs --tls-key/);
    expect(() => resolveServeConfig({}, { COFFER_TLS_KEY: 'k.pem' })).toThrow(UsageError);
    expect(() => resolveServeConfig({}, { COFFER_TLS_KEY: 'k.pem' })).toThrow(/--tls-key needs --tls-cert/);
  });
});
