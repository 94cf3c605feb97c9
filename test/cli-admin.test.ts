/**
 * `coffer admin`: never locked out (a new password or API key from the server's machine) and
 * restic as the escape hatch (a repository's password, from the CLI or the API). The CLI runs
 * beside a real `coffer serve` process on the same data, on every catalog.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { coffer, cofferOk, requireRestic, resticOk, tempDir } from './helpers.js';
import { ADMIN_KEY, ADMIN_PASSWORD, type ServerProcess, client, startServer } from './server-process.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('coffer admin beside a running server ($name catalog)', (cat: CatalogUnderTest) => {
  let dir: string;
  let dataDir: string;
  let catalog: string;
  let server: ServerProcess;
  /** The CLI on the server's data, as `serve` was told where it is. */
  const admin = (args: string[], env: Record<string, string> = {}) => coffer(['admin', ...args, '--data-dir', dataDir, '--catalog', catalog], { env });
  const basicGet = async (user: string, password: string, url: string): Promise<number> => {
    const res = await fetch(server.url + url, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
    await res.arrayBuffer();
    return res.status;
  };

  beforeAll(async () => {
    dir = tempDir('coffer-admin-');
    dataDir = path.join(dir, 'data');
    catalog = await cat.create(dir);
    server = await startServer(['--data-dir', dataDir, '--catalog', catalog]);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await cat.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the start-up message says how to recover lost credentials', () => {
    expect(server.output()).toContain(`coffer admin reset-password [USER] --data-dir ${dataDir}`);
  });

  it('reset-password: the new password signs in, the old one no longer does', async () => {
    expect(await basicGet('admin', ADMIN_PASSWORD, '/api/v1/users')).toBe(200);
    const r = admin(['reset-password'], { COFFER_NEW_PASSWORD: 'a brand new password' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('a brand new password');
    expect(await basicGet('admin', 'a brand new password', '/api/v1/users')).toBe(200);
    expect(await basicGet('admin', ADMIN_PASSWORD, '/api/v1/users')).toBe(401);
  });

  it('reset-password without COFFER_NEW_PASSWORD and no terminal: generated and printed once', async () => {
    const call = client(server.url);
    expect((await call('POST', '/api/v1/users', { name: 'operator', role: 'backup_operator' })).status).toBe(201);
    const r = admin(['reset-password', 'operator']);
    expect(r.code, r.stderr).toBe(0);
    const password = /New password: (\S+)/.exec(r.stdout)?.[1];
    expect(password).toBeDefined();
    expect(await basicGet('operator', password!, '/api/v1/backup/list')).toBe(200);
  });

  it('reset-password refuses a password the API would refuse, with the rule', () => {
    const r = admin(['reset-password', 'admin'], { COFFER_NEW_PASSWORD: 'short' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('password: must be a string of 8 to 1024 characters');
  });

  it('an unknown user: exit 1, named', () => {
    for (const args of [['reset-password', 'nobody'], ['create-key', 'nobody']]) {
      const r = admin(args, { COFFER_NEW_PASSWORD: 'long enough password' });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('user nobody not found');
    }
  });

  it('a directory that holds no server: exit 1, saying so, and nothing is created there', () => {
    const empty = path.join(dir, 'not-a-server');
    const r = coffer(['admin', 'reset-password', '--data-dir', empty], { env: { COFFER_NEW_PASSWORD: 'long enough password' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no server secret at');
    expect(fs.existsSync(empty)).toBe(false);
  });

  it('create-key: the key printed once signs in', async () => {
    const r = admin(['create-key', 'admin']);
    expect(r.code, r.stderr).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^cfr_[A-Za-z0-9_-]{43}$/);
    expect((await client(server.url, key)('GET', '/api/v1/users')).status).toBe(200);
  });

  it('repository-password: restic lists the default repository\'s snapshots with it; the API gives admins the same', async () => {
    const r = admin(['repository-password', 'default']);
    expect(r.code, r.stderr).toBe(0);
    const password = r.stdout.replace(/\n$/, '');
    expect(password).not.toMatch(/\s/);
    const src = path.join(dir, 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'hello.txt'), 'hello\n');
    const repo = path.join(dataDir, 'repo');
    cofferOk(['-r', repo, 'backup', src], { env: { COFFER_PASSWORD: password } });

    const call = client(server.url);
    const viaApi = await call('GET', '/api/v1/repositories/default/password');
    expect(viaApi.status).toBe(200);
    expect(viaApi.body).toEqual({ password });
    expect(viaApi.headers.get('cache-control')).toBe('no-store');
    expect((await call('GET', '/api/v1/repositories/nothing-here/password')).status).toBe(404);
    expect((await call('POST', '/api/v1/users', { name: 'watcher', role: 'viewer' })).status).toBe(201);
    const viewerKey = (await call('POST', '/api/v1/users/watcher/keys', {})).body.key as string;
    expect((await client(server.url, viewerKey)('GET', '/api/v1/repositories/default/password')).status).toBe(403);

    if (!requireRestic()) return;
    const snapshots = JSON.parse(resticOk(['-r', repo, 'snapshots', '--json'], { RESTIC_PASSWORD: password }).stdout) as { paths: string[] }[];
    expect(snapshots.map((s) => s.paths)).toEqual([[src]]);
  }, 60_000);

  it('every recovery is in the audit log, with who did it', async () => {
    const entries = (await client(server.url, ADMIN_KEY)('GET', '/api/v1/audit?limit=200')).body as { actor: string; action: string; target: string | null }[];
    const cli = `cli:${os.userInfo().username}`;
    const seen = (action: string, actor: string, target: string) => entries.some((e) => e.action === action && e.actor === actor && e.target === target);
    expect(seen('user.password_reset', cli, 'user:admin')).toBe(true);
    expect(seen('user.password_reset', cli, 'user:operator')).toBe(true);
    expect(seen('apikey.create', cli, 'user:admin')).toBe(true);
    expect(seen('repository.password_read', cli, 'repository:default')).toBe(true);
    expect(seen('repository.password_read', 'admin', 'repository:default')).toBe(true);
  });
});
