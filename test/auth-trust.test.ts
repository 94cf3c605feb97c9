/**
 * Authentication and Coffer's own secrets: sign-in throttling never locks out a valid
 * API key, Basic auth costs an argon2 check whether or not the user exists, bootstrap credentials
 * are checked, the data directory and catalog are private, viewers do not read backed-up content,
 * Coffer's own files stay out of parts that cover them, a device backup's configuration copy shows
 * no accounts, a restored configuration says which credentials came back, failed sign-ins are
 * audited (rate-limited), and API keys per user are capped. SQLite only: nothing here depends on
 * the catalog's kind, and the API tests of both catalogs cover the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { AuditLog } from '../src/core/audit.js';
import { AuthService, MAX_KEYS_PER_USER, checkBootstrapCredentials } from '../src/core/auth.js';
import { Core, CoreError, SYSTEM_ACTOR } from '../src/core/index.js';
import { restore } from '../src/repo/index.js';
import { type ApiUnderTest, ADMIN_KEY, ADMIN_PASSWORD, startApi, writeTree } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';
import { coffer, tempDir } from './helpers.js';
import { ADMIN_KEY as SERVER_ADMIN_KEY, ADMIN_PASSWORD as SERVER_ADMIN_PASSWORD } from './server-process.js';

const sqlite = (await catalogsUnderTest()).find((c) => c.name === 'sqlite')!;
const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

/** Every file and directory of a tree, relative to `root`, sorted. */
function listTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    out.push(r);
    if (e.isDirectory()) out.push(...listTree(root, r));
  }
  return out.sort();
}

describe('sign-in', () => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(sqlite);
  });
  afterAll(async () => api?.close());

  // First: the log's budget per minute is the server's, and the tests after fail many sign-ins.
  it('Suspicion 10: failed sign-ins are in the audit log, at most 30 a minute', async () => {
    await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic('viewer', 'not-the-password'), remoteAddress: '10.3.0.1' });
    for (let i = 0; i < 60; i++) await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { 'x-api-key': `cfr_flood${i}` }, remoteAddress: `10.3.1.${i}` });
    const entries = (await api.call('GET', '/api/v1/audit?action=auth.failure&limit=200')).body as { actor: string; ip: string; target: string | null; detail: Record<string, unknown> }[];
    expect(entries.some((e) => e.actor === 'viewer' && e.ip === '10.3.0.1' && e.detail['method'] === 'password')).toBe(true);
    expect(entries.some((e) => e.detail['method'] === 'api_key')).toBe(true);
    // 61 failures (first in this server's life): never more than 30 in a minute.
    const perMinute = new Map<string, number>();
    for (const e of entries as unknown as { at?: string; created_at?: string }[]) {
      const minute = String(e.created_at ?? e.at).slice(0, 16);
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(30);
  });

  it('L1: eleven bad API keys from one address do not lock out the valid admin key from that address', async () => {
    const from = '10.1.0.1';
    let last = 0;
    for (let i = 0; i < 11; i++) last = (await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { 'x-api-key': `cfr_wrong${i}` }, remoteAddress: from })).status;
    expect(last).toBe(401);
    // The address is blocked for unknown keys now …
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { 'x-api-key': 'cfr_wrong-again' }, remoteAddress: from })).status).toBe(429);
    // … but keys that exist go through.
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'admin', remoteAddress: from })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer', remoteAddress: from })).status).toBe(200);
  });

  it('L1: Basic failures are capped per user across addresses; other users are not affected', async () => {
    let status = 0;
    // Three wrong passwords from each of many addresses stay below the per-address limit.
    for (let a = 0; a < 20 && status !== 429; a++) {
      for (let i = 0; i < 3 && status !== 429; i++) {
        status = (await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic('backup_operator', `wrong-${a}-${i}`), remoteAddress: `10.2.0.${a}` })).status;
      }
    }
    expect(status).toBe(429);
    // From an address that never failed, the right password of that user is refused until the block ends …
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic('backup_operator', 'backup_operator-password'), remoteAddress: '10.2.1.1' })).status).toBe(429);
    // … its API key still works, and so does another user's password.
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'backup_operator', remoteAddress: '10.2.1.1' })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic('admin', ADMIN_PASSWORD), remoteAddress: '10.2.1.1' })).status).toBe(200);
  });

  it(`Suspicion 10: a user has at most ${MAX_KEYS_PER_USER} API keys; one more is 409`, async () => {
    const have = (await api.call('GET', '/api/v1/users/viewer/keys', { as: 'viewer' })).body.length as number;
    for (let i = have; i < MAX_KEYS_PER_USER; i++) await api.core.auth.createKey(SYSTEM_ACTOR, 'viewer', `k${i}`);
    const r = await api.call('POST', '/api/v1/users/viewer/keys', { as: 'viewer', body: { label: 'one too many' } });
    expect(r.status).toBe(409);
    expect(r.body.message ?? r.text).toMatch(/100 API keys/);
  });
});

describe('L4: Basic authentication takes the argon2 path for every user name', () => {
  it('verifies against a dummy hash for an unknown user and for a user without a password', async () => {
    const dir = tempDir('coffer-auth-');
    const catalog = await Catalog.open(`sqlite:${path.join(dir, 'c.db')}`);
    try {
      const checked: string[] = [];
      const auth = new AuthService(catalog, new AuditLog(catalog), {
        verifyPassword: async (hash) => {
          checked.push(hash);
          return false;
        },
      });
      await auth.createUser(SYSTEM_ACTOR, { name: 'nopassword', role: 'viewer' });
      await auth.createUser(SYSTEM_ACTOR, { name: 'real', role: 'viewer', password: 'real-password-1' });
      for (const name of ['nosuchuser', 'nopassword', 'real']) {
        await expect(auth.byPassword(name, 'wrong', '10.4.0.1')).rejects.toMatchObject({ code: 'unauthorized' });
      }
      expect(checked).toHaveLength(3);
      for (const h of checked) expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      // The dummy has the parameters of a real hash, so the work is the same.
      expect(checked[0]!.split('$').slice(0, 4)).toEqual(checked[2]!.split('$').slice(0, 4));
    } finally {
      await catalog.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('L5: bootstrap credentials', () => {
  const refused = async (o: { adminPassword?: string; adminApiKey?: string }, message: RegExp) => {
    const dir = tempDir('coffer-boot-');
    try {
      const err = await Core.start({ dataDir: path.join(dir, 'data'), engineWorkers: 0, ...o }).then(async (c) => {
        await c.stop();
        return undefined;
      }, (e: unknown) => e);
      expect(err).toBeInstanceOf(CoreError);
      expect((err as Error).message).toMatch(message);
      // Refused before anything was made.
      expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('refuses a short password, a short key and a key without cfr_', async () => {
    await refused({ adminPassword: 'a' }, /^COFFER_ADMIN_PASSWORD: must be at least 12 characters$/);
    await refused({ adminPassword: 'long-enough-password', adminApiKey: 'cfr_1' }, /^COFFER_ADMIN_API_KEY: must be cfr_ followed by at least 32 base64url characters/);
    await refused({ adminApiKey: 'x'.repeat(48) }, /COFFER_ADMIN_API_KEY: must be cfr_/);
    await refused({ adminApiKey: `cfr_${'a'.repeat(31)}!` }, /COFFER_ADMIN_API_KEY/);
  });

  it('accepts the test harnesses\' own credentials and generated keys', () => {
    for (const c of [{ password: ADMIN_PASSWORD, apiKey: ADMIN_KEY }, { password: SERVER_ADMIN_PASSWORD, apiKey: SERVER_ADMIN_KEY }, { apiKey: AuthService.newApiKey().key }]) {
      expect(() => checkBootstrapCredentials(c)).not.toThrow();
    }
  });

  it('coffer serve exits 1 with the rule', () => {
    const dir = tempDir('coffer-boot-cli-');
    try {
      const r = coffer(['serve', '--data-dir', path.join(dir, 'data'), '--port', '0'], { env: { COFFER_ADMIN_PASSWORD: 'a', COFFER_ADMIN_API_KEY: '' } });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('coffer: cannot start: COFFER_ADMIN_PASSWORD: must be at least 12 characters');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('L3: the data directory and the catalog are private', () => {
  it('0700 and 0600 on first start, corrected on the next', async () => {
    const dir = tempDir('coffer-modes-');
    const data = path.join(dir, 'data');
    const mode = (f: string) => (fs.statSync(f).mode & 0o777).toString(8);
    const db = path.join(data, 'coffer.db');
    try {
      let core = await Core.start({ dataDir: data, engineWorkers: 0 });
      await core.health();
      expect(mode(data)).toBe('700');
      for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f), f).toBe('600');
      await core.stop();
      fs.chmodSync(data, 0o755);
      for (const f of [db, `${db}-wal`, `${db}-shm`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o644);
      core = await Core.start({ dataDir: data, engineWorkers: 0 });
      await core.health();
      expect(mode(data)).toBe('700');
      for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f), f).toBe('600');
      await core.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('M2: what viewers read, and what a backup holds of Coffer itself', () => {
  let api: ApiUnderTest;
  const backup = async (instance: string) => {
    const made = await api.call('POST', '/api/v1/backup/create', { body: { instance, type: 'full' } });
    expect(made.status, made.text).toBe(201);
    return api.backupDone(made.body.backup_id, 60_000);
  };
  /** The backup's snapshot, restored into a fresh directory; returns that directory. */
  const restoredTree = async (id: string) => {
    const rec = (await api.core.catalog.backups.get(Number(String(id).replace('backup-', ''))))!;
    const repo = await api.core.repositories.open(rec.repositoryId);
    await repo.loadIndex();
    const out = tempDir('coffer-m2-');
    await restore(repo, await repo.loadSnapshot(rec.snapshotId!), { target: out, workers: 0 });
    return out;
  };

  beforeAll(async () => {
    api = await startApi(sqlite);
  });
  afterAll(async () => api?.close());

  it('(a) viewers list backups but download none; operators and admins download (backup.download)', async () => {
    writeTree(path.join(api.dir, 'site'), { 'index.html': 'hello' });
    expect((await api.call('PUT', '/api/v1/instances/site', { body: { parts: [{ name: 'www', path: path.join(api.dir, 'site') }] } })).status).toBe(201);
    const b = await backup('site');
    expect(b.status).toBe('success');
    expect((await api.call('GET', `/api/v1/backup/${b.id}`, { as: 'viewer' })).status).toBe(200);
    const denied = await api.call('GET', `/api/v1/backup/${b.id}/file`, { as: 'viewer' });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(/backup download/);
    expect((await api.call('GET', `/api/v1/backup/${b.id}/file`, { as: 'backup_operator' })).status).toBe(200);
    // Syncano's partial backups: the archive link is a download, so viewers get none.
    const partial = await api.call('POST', '/v1/instances/site/backups/partial/', { body: { query_args: { www: ['index.html'] } } });
    expect(partial.status, partial.text).toBe(201);
    const self = partial.body.links.self as string;
    const done = await api.backupDone(`backup-${partial.body.id}`, 60_000);
    expect(done.status).toBe('success');
    expect((await api.call('GET', self, { as: 'viewer' })).body.archive).toBeNull();
    expect((await api.call('GET', self, { as: 'backup_operator' })).body.archive).toMatch(/\/v1\/archives\/.+\/backup\.zip$/);
  }, 120_000);

  it('(b) a part that covers the data directory leaves out the secret, the catalog and Coffer\'s folders unless it opts in', async () => {
    // api.dir holds data/ (secret.key, repo/, uploads/, state/) and the catalog file beside it.
    writeTree(path.join(api.dir, 'mine'), { 'notes.txt': 'mine' });
    fs.mkdirSync(path.join(api.dir, 'data', 'uploads'), { recursive: true });
    fs.mkdirSync(path.join(api.dir, 'data', 'state'), { recursive: true });
    fs.mkdirSync(path.join(api.dir, 'data', 'kanto'), { recursive: true });
    writeTree(path.join(api.dir, 'data'), { 'kanto/k.zip': 'k', 'uploads/u.part': 'u', 'state/s.json': '{}', 'other.txt': 'kept' });
    const catalogFile = api.core.catalog.describe.replace(/^sqlite:/, '');
    expect(path.dirname(catalogFile)).toBe(api.dir);
    expect((await api.call('PUT', '/api/v1/instances/sys', { body: { parts: [{ name: 'all', path: api.dir, exclude: ['/site'] }] } })).status).toBe(201);
    const b = await backup('sys');
    expect(b.status, b.status_info).toBe('success');
    const out = await restoredTree(b.id);
    try {
      const files = listTree(path.join(out, api.dir));
      expect(files).toContain('mine/notes.txt');
      expect(files).toContain('data/other.txt');
      for (const gone of ['data/secret.key', 'data/repo', 'data/uploads', 'data/state', 'data/kanto', path.basename(catalogFile), `${path.basename(catalogFile)}-wal`]) {
        expect(files, gone).not.toContain(gone);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }

    // An admin's explicit choice takes them (here without the repository, which cannot hold itself).
    const optIn = await api.call('PUT', '/api/v1/instances/sys', { body: { parts: [{ name: 'all', path: path.join(api.dir, 'data'), exclude: ['/repo'], include_coffer_data: true }] } });
    expect(optIn.status, optIn.text).toBe(200);
    expect(optIn.body.parts[0].include_coffer_data).toBe(true);
    const again = await backup('sys');
    expect(again.status, again.status_info).toBe('success');
    const out2 = await restoredTree(again.id);
    try {
      expect(listTree(path.join(out2, api.dir, 'data'))).toEqual(expect.arrayContaining(['secret.key', 'uploads/u.part', 'state/s.json', 'kanto/k.zip']));
    } finally {
      fs.rmSync(out2, { recursive: true, force: true });
    }
    expect((await api.call('PUT', '/api/v1/instances/sys', { body: { parts: [{ name: 'all', path: api.dir, include_coffer_data: 'yes' }] } })).status).toBe(400);
  }, 120_000);

  it('(c) the configuration copy in a backup of device shows no users, keys or repository locations; (Suspicion 4) restoring it says which credentials came back', async () => {
    const b = await backup('device');
    expect(b.status, b.status_info).toBe('success');
    const out = await restoredTree(b.id);
    let text: string;
    try {
      const file = listTree(out).find((f) => f.endsWith('coffer-configuration.json'))!;
      text = fs.readFileSync(path.join(out, file), 'utf8');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    const doc = JSON.parse(text);
    expect(doc.configuration.users).toEqual([]);
    expect(doc.configuration.api_keys).toEqual([]);
    expect(doc.configuration.repositories).toEqual([]);
    for (const hidden of ['backup_operator', ADMIN_KEY.slice(0, 10), api.keys.viewer.slice(0, 10), path.join(api.dir, 'data', 'repo')]) expect(text).not.toContain(hidden);

    // Revoke the viewer's key, then restore the device backup: the key works again, and the job and the audit log say so.
    const keys = (await api.call('GET', '/api/v1/users/viewer/keys')).body as { id: number; prefix: string }[];
    const viewerKey = keys.find((k) => api.keys.viewer.startsWith(k.prefix))!;
    expect((await api.call('DELETE', `/api/v1/users/viewer/keys/${viewerKey.id}`)).status).toBe(204);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer' })).status).toBe(401);
    const job = await api.call('POST', `/api/v1/backup/restore/${b.id}`, { body: {} });
    expect(job.status, job.text).toBe(202);
    const done = await api.restoreDone(job.body.job_id, 60_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.error).toMatch(new RegExp(`API keys not in use before came back \\(.*${viewerKey.prefix}.*\\)`));
    const audit = (await api.call('GET', '/api/v1/audit?action=configuration.restore')).body as { detail: Record<string, unknown> }[];
    expect(audit[0]!.detail['api_keys_revived']).toContain(viewerKey.prefix);
    expect(String(audit[0]!.detail['warning'])).toMatch(/Revoke what should stay revoked/);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer' })).status).toBe(200);
  }, 120_000);
});
