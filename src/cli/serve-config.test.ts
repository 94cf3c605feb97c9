import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from './exit-codes.js';
import { envName, explainStartupError, resolveServeConfig } from './serve-config.js';

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

  it('records where each setting came from', () => {
    const c = resolveServeConfig({ port: '9003' }, { COFFER_CONFIG: file, COFFER_DATA_DIR: '/srv/coffer' });
    expect(c.sources).toMatchObject({ port: '--port', 'data-dir': 'COFFER_DATA_DIR', host: `config file ${file} key host`, 'log-level': `config file ${file} key logLevel`, jobs: 'default' });
    fs.writeFileSync(path.join(dir, 'snake.json'), JSON.stringify({ data_dir: '/srv/snake' }));
    const snake = resolveServeConfig({ config: path.join(dir, 'snake.json') }, {});
    expect([snake['data-dir'], snake.sources['data-dir']]).toEqual(['/srv/snake', `config file ${path.join(dir, 'snake.json')} key data_dir`]);
  });

  it('keeps the server\'s default repository apart from the CLI\'s COFFER_REPOSITORY', () => {
    const cli = resolveServeConfig({}, { COFFER_REPOSITORY: '/home/me/restic-repo' });
    expect(cli['default-repository']).toBeUndefined();
    expect(cli.warnings.join('\n')).toMatch(/COFFER_REPOSITORY is the repository of the coffer repository commands .* --default-repository or COFFER_DEFAULT_REPOSITORY/);
    const both = resolveServeConfig({}, { COFFER_REPOSITORY: '/home/me/restic-repo', COFFER_DEFAULT_REPOSITORY: '/srv/repo' });
    expect([both['default-repository'], both.sources['default-repository'], both.warnings]).toEqual(['/srv/repo', 'COFFER_DEFAULT_REPOSITORY', []]);
  });

  it('still takes the old --repository flag and config key, with a warning', () => {
    const flag = resolveServeConfig({ repository: '/srv/old' }, {});
    expect([flag['default-repository'], flag.sources['default-repository']]).toEqual(['/srv/old', '--repository']);
    expect(flag.warnings).toEqual(['--repository is deprecated; use --default-repository']);
    fs.writeFileSync(path.join(dir, 'old.json'), JSON.stringify({ repository: '/srv/old-file' }));
    const old = resolveServeConfig({ config: path.join(dir, 'old.json') }, {});
    expect(old['default-repository']).toBe('/srv/old-file');
    expect(old.warnings).toEqual([`config file ${path.join(dir, 'old.json')}: key repository is deprecated; call it default-repository`]);
  });

  it('names the setting behind a path that fails at start-up', () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const failure = (target: string) => {
      try {
        fs.mkdirSync(target, { recursive: true });
      } catch (err) {
        return err;
      }
      throw new Error(`${target} was made`);
    };
    const under = path.join(blocker, 'data');
    const fromVariable = resolveServeConfig({}, { COFFER_DATA_DIR: under });
    expect(explainStartupError(failure(under), fromVariable)).toBe(`data directory ${under} (from COFFER_DATA_DIR): not a directory`);
    const fromFlag = resolveServeConfig({ dataDir: dir, secretFile: path.join(under, 'secret.key') }, {});
    expect(explainStartupError(failure(path.join(under, 'secret.key')), fromFlag)).toBe(`secret file ${path.join(under, 'secret.key')} (from --secret-file): not a directory`);
    // A path inside the data directory that no setting names: the data directory is what to change.
    expect(explainStartupError(failure(path.join(under, 'x')), fromFlag)).toBe(`data directory ${dir} (from --data-dir): ${path.join(under, 'x')}: not a directory`);
    expect(explainStartupError(new Error(`${dir}/repo is not empty`), fromFlag)).toBe(`data directory ${dir} (from --data-dir): ${dir}/repo is not empty`);
    expect(explainStartupError(new Error('something else'), fromFlag)).toBe('something else');
  });

  it('names the source of a bad value', () => {
    expect(() => resolveServeConfig({}, { COFFER_ROLE: 'boss' })).toThrow('role must be all, api or worker, got boss (from COFFER_ROLE)');
  });
});

