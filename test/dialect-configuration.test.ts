/**
 * The configuration backup dialect (docs/dialects.md) end to end on SQLite and PostgreSQL: the documentation's own
 * curl commands against a listening server (export → `unzip -t`, nothing sensitive in clear text →
 * changes → restore → 204 and everything back, services running again), every error the seed
 * names (400 INVALID_REQUEST with the configuration untouched), roles, a server adopting the
 * secret of the configuration it restores, the factory reset, and the copy of the configuration
 * inside every backup of `device` that a restore of it puts back.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as yazl from 'yazl';
import { sha256Hex } from '../src/core/auth.js';
import { SYSTEM_ACTOR } from '../src/core/index.js';
import { type ApiUnderTest, ADMIN_KEY, ADMIN_PASSWORD, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

const BACKUP_PASSWORD = 'the backup password: Zauberwürfel 42';
const OFFSITE_PASSWORD = 'offsite-repository-password-7f3a9c';
/** A backend credential of the offsite repository (the local backend ignores it; it must travel sealed all the same). */
const OFFSITE_CREDENTIAL = 'offsite-storage-secret-41d2e8';

interface Curl {
  status: number;
  headers: string;
  body: string;
}

/**
 * Runs curl as the seed writes it (asynchronously: the server answers from this very process);
 * `-w` appends the status so that the body goes to a file or stdout untouched.
 */
function curl(args: string[]): Promise<Curl> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-D', '-', '-w', '\n%{http_code}', ...args], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${stderr.toString()}`));
      const out = stdout.toString('utf8');
      const status = Number(out.slice(out.lastIndexOf('\n') + 1));
      const rest = out.slice(0, out.lastIndexOf('\n'));
      const split = rest.indexOf('\r\n\r\n');
      resolve({ status, headers: split < 0 ? rest : rest.slice(0, split), body: split < 0 ? '' : rest.slice(split + 4) });
    });
  });
}

function zipOf(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data), name);
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
}

describe.each(catalogs)('configuration backup dialect on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let url: string;
  let web: string;
  let zipFile: string;
  const basicAdmin = `admin:${ADMIN_PASSWORD}`;

  /** What must come back after a restore, and must not change after a refused one. */
  const state = async () => {
    const users = (await api.call('GET', '/api/v1/users')).body.map((u: { name: string; role: string }) => `${u.name}:${u.role}`).sort();
    const keys: string[] = [];
    for (const u of users) {
      const name = u.split(':')[0];
      for (const k of (await api.call('GET', `/api/v1/users/${name}/keys`)).body) keys.push(`${name}:${k.prefix}:${k.label}`);
    }
    const instances = (await api.call('GET', '/api/v1/instances')).body.map((i: { name: string; parts: unknown; repository: string }) => ({ name: i.name, parts: i.parts, repository: i.repository }));
    const schedules = (await api.call('GET', '/api/v1/backup/schedule')).body.map((s: Record<string, unknown>) => `${String(s['instance'])} ${String(s['cron'])} ${String(s['keep_last'])}`).sort();
    const repositories = (await api.call('GET', '/api/v1/repositories')).body.map((r: { name: string; location: string; option_keys: string[] }) => `${r.name}@${r.location} ${r.option_keys.join(',')}`).sort();
    return { users, keys: keys.sort(), instances, schedules, repositories };
  };
  const backupDone = (id: string) => api.backupDone(id, 60_000);
  const restoreDone = (jobId: string) => api.restoreDone(jobId, 60_000);
  const backup = async (instance: string) => {
    const r = await api.call('POST', '/api/v1/backup/create', { body: { instance, type: 'full' } });
    expect(r.status, r.text).toBe(201);
    return backupDone(r.body.backup_id);
  };
  const put = (file: string, password?: string, o: { user?: string; field?: string } = {}) => curl([
    '-u', o.user ?? basicAdmin, `${url}/api/v1/configuration/backup`, '-X', 'PUT',
    ...(password !== undefined ? ['-F', `password=${password}`] : []), ...(file ? ['-F', `${o.field ?? 'backup'}=@${file}`] : []),
  ]);

  beforeAll(async () => {
    api = await startApi(cat);
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
    web = path.join(api.dir, 'web');
    writeTree(web, { 'index.html': '<h1>hi</h1>', 'img/a.txt': 'a' });
    const repo = await api.call('POST', '/api/v1/repositories', { body: { name: 'offsite', location: path.join(api.dir, 'offsite'), password: OFFSITE_PASSWORD, options: { 's3.secret-access-key': OFFSITE_CREDENTIAL } } });
    expect(repo.status, repo.text).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', path: web, exclude: ['*.tmp'] }], repository: 'offsite' } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/scratch', { body: { parts: [] } })).status).toBe(201);
    expect((await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'web', cron: '0 3 * * *', keep_last: 7 } })).status).toBe(201);
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'ops', role: 'backup_operator', password: 'ops-password-123' } })).status).toBe(201);
    expect((await backup('web')).status).toBe('success');
    zipFile = path.join(api.dir, 'backupfile.zip');
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('POST (the seed\'s curl) answers a ZIP that unzip opens, with nothing sensitive in clear text', async () => {
    const r = await curl(['-u', basicAdmin, `${url}/api/v1/configuration/backup`, '-X', 'POST', '-H', 'Content-Type: application/json',
      '-d', JSON.stringify({ password: BACKUP_PASSWORD }), '-o', zipFile]);
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/zip/i);
    expect(r.headers).toMatch(/content-disposition: attachment; filename="coffer-configuration-[^"]+\.zip"/i);
    expect(execFileSync('unzip', ['-t', zipFile]).toString()).toMatch(/No errors detected/);
    expect(execFileSync('unzip', ['-Z1', zipFile]).toString().split('\n').filter(Boolean).sort()).toEqual(['README.txt', 'configuration.json']);

    const doc = JSON.parse(execFileSync('unzip', ['-p', zipFile, 'configuration.json']).toString());
    expect(doc).toMatchObject({ format: 'coffer-configuration', version: 1, sealing: { method: 'password', cipher: 'aes-256-gcm', kdf: { name: 'scrypt' } } });
    // The readable part is readable.
    expect(doc.configuration.repositories.map((x: { name: string }) => x.name).sort()).toEqual(['default', 'offsite']);
    expect(doc.configuration.instances.find((i: { name: string }) => i.name === 'web')).toMatchObject({ repository: 'offsite', parts: [{ name: 'site', path: web }] });
    expect(doc.configuration.schedules).toEqual([expect.objectContaining({ instance: 'web', cron: '0 3 * * *', keep_last: 7 })]);
    expect(doc.configuration.users.map((u: { name: string; role: string }) => `${u.name}:${u.role}`).sort()).toEqual(['admin:admin', 'backup_operator:backup_operator', 'ops:backup_operator', 'viewer:viewer']);

    // Nothing sensitive, in the ZIP's bytes nor in its uncompressed entries.
    const secret = fs.readFileSync(path.join(api.dir, 'data', 'secret.key'), 'utf8').trim();
    const everything = Buffer.concat([fs.readFileSync(zipFile), execFileSync('unzip', ['-p', zipFile])]).toString('latin1');
    for (const clear of [OFFSITE_PASSWORD, OFFSITE_CREDENTIAL, '$argon2', secret, sha256Hex(ADMIN_KEY), sha256Hex(api.keys.viewer), ADMIN_PASSWORD]) expect(everything).not.toContain(clear);
    const audit = await api.call('GET', '/api/v1/audit?action=configuration.export');
    expect(audit.body.length).toBeGreaterThan(0);
  });

  it('PUT (the seed\'s curl) restores it: 204, users, keys, schedules, parts and repositories back, services running', async () => {
    const before = await state();
    // Change things: a new admin, the schedule gone, other parts, a user gone.
    const mallory = await api.call('POST', '/api/v1/users', { body: { name: 'mallory', role: 'admin' } });
    const malloryKey = (await api.call('POST', '/api/v1/users/mallory/keys', { body: {} })).body.key as string;
    expect(mallory.status).toBe(201);
    for (const s of (await api.call('GET', '/api/v1/backup/schedule')).body) expect((await api.call('DELETE', `/api/v1/backup/schedule/${s.id}`)).status).toBe(204);
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'other', path: api.dir }], repository: 'offsite' } })).status).toBe(200);
    expect((await api.call('DELETE', '/api/v1/users/ops')).status).toBe(204);
    expect((await api.call('GET', '/api/v1/audit', { headers: { 'x-api-key': malloryKey }, as: 'none' })).status).toBe(200);
    expect(await state()).not.toEqual(before);

    const r = await put(zipFile, BACKUP_PASSWORD);
    expect(r.status, r.body).toBe(204);
    expect(r.body).toBe('');
    expect(await state()).toEqual(before);
    // Keys authenticate with their old values, passwords with theirs; the new admin is gone, at once.
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer' })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/audit', { as: 'admin' })).status).toBe(200);
    expect((await curl(['-u', 'ops:ops-password-123', `${url}/api/v1/backup/list`])).status).toBe(200);
    expect((await api.call('GET', '/api/v1/audit', { headers: { 'x-api-key': malloryKey }, as: 'none' })).status).toBe(401);
    // The repository opens with its restored password, and the restarted runner runs a backup.
    const b = await backup('web');
    expect(b.status).toBe('success');
    const audit = (await api.call('GET', '/api/v1/audit?action=configuration.import')).body;
    expect(audit[0]).toMatchObject({ actor: 'admin', action: 'configuration.import' });
  }, 120_000);

  it('refuses, with 400 INVALID_REQUEST and nothing changed: wrong, missing or empty password, missing file, not a zip, no configuration.json, tampering', async () => {
    const before = await state();
    const doc = JSON.parse(execFileSync('unzip', ['-p', zipFile, 'configuration.json']).toString());
    const write = async (name: string, data: Buffer | string) => {
      const f = path.join(api.dir, name);
      fs.writeFileSync(f, data);
      return f;
    };
    const flip = (b64: string) => {
      const raw = Buffer.from(b64, 'base64');
      raw[raw.length - 1] ^= 1;
      return raw.toString('base64');
    };
    const tamperedCipher = await write('tampered-cipher.zip', await zipOf({ 'configuration.json': JSON.stringify({ ...doc, sealed: { ...doc.sealed, ciphertext: flip(doc.sealed.ciphertext) } }) }));
    const promoted = structuredClone(doc);
    promoted.configuration.users.find((u: { name: string }) => u.name === 'viewer').role = 'admin';
    const tamperedRole = await write('tampered-role.zip', await zipOf({ 'configuration.json': JSON.stringify(promoted) }));
    const cases: { what: string; r: Curl; says: RegExp }[] = [
      { what: 'wrong password', r: await put(zipFile, 'not the password'), says: /wrong password/ },
      { what: 'missing password', r: await put(zipFile, undefined), says: /password: is required/ },
      { what: 'empty password', r: await put(zipFile, ''), says: /password: is required/ },
      { what: 'missing file', r: await put('', BACKUP_PASSWORD), says: /backup: is required/ },
      { what: 'not a zip', r: await put(await write('not.zip', 'this is not a zip file at all'), BACKUP_PASSWORD), says: /not a ZIP archive/ },
      { what: 'empty file', r: await put(await write('empty.zip', ''), BACKUP_PASSWORD), says: /empty|not a ZIP/ },
      { what: 'no configuration.json', r: await put(await write('other.zip', await zipOf({ 'README.txt': 'hello' })), BACKUP_PASSWORD), says: /holds no configuration\.json/ },
      { what: 'bad JSON', r: await put(await write('badjson.zip', await zipOf({ 'configuration.json': '{"format": ' })), BACKUP_PASSWORD), says: /not valid JSON/ },
      { what: 'wrong format', r: await put(await write('fmt.zip', await zipOf({ 'configuration.json': JSON.stringify({ ...doc, format: 'other' }) })), BACKUP_PASSWORD), says: /format must be/ },
      { what: 'wrong version', r: await put(await write('ver.zip', await zipOf({ 'configuration.json': JSON.stringify({ ...doc, version: 99 }) })), BACKUP_PASSWORD), says: /version 99 is not supported/ },
      { what: 'tampered ciphertext', r: await put(tamperedCipher, BACKUP_PASSWORD), says: /altered or damaged/ },
      { what: 'tampered readable part', r: await put(tamperedRole, BACKUP_PASSWORD), says: /altered or damaged/ },
    ];
    for (const c of cases) {
      expect(c.r.status, `${c.what}: ${c.r.body}`).toBe(400);
      const body = JSON.parse(c.r.body);
      expect(body.code, c.what).toBe('INVALID_REQUEST');
      expect(body.message, c.what).toMatch(c.says);
    }
    // Not multipart at all; a JSON body instead.
    const json = await curl(['-u', basicAdmin, `${url}/api/v1/configuration/backup`, '-X', 'PUT', '-H', 'Content-Type: application/json', '-d', '{"password":"x"}']);
    expect([json.status, JSON.parse(json.body).code]).toEqual([400, 'INVALID_REQUEST']);
    // Export without a usable password.
    for (const body of [{}, { password: '' }, { password: 7 }]) {
      const r = await api.call('POST', '/api/v1/configuration/backup', { body });
      expect([r.status, r.body.code], JSON.stringify(body)).toEqual([400, 'INVALID_REQUEST']);
    }
    expect(await state()).toEqual(before);
  }, 120_000);

  it('is for admins only: 403 FORBIDDEN for other roles, 401 UNAUTHORIZED without credentials', async () => {
    for (const who of ['viewer', 'backup_operator'] as const) {
      const post = await api.call('POST', '/api/v1/configuration/backup', { as: who, body: { password: 'x' } });
      expect([post.status, post.body.code]).toEqual([403, 'FORBIDDEN']);
      const r = await curl(['-H', `X-API-KEY: ${api.keys[who]}`, `${url}/api/v1/configuration/backup`, '-X', 'PUT', '-F', `password=${BACKUP_PASSWORD}`, '-F', `backup=@${zipFile}`]);
      expect([r.status, JSON.parse(r.body).code]).toEqual([403, 'FORBIDDEN']);
    }
    const none = await api.call('POST', '/api/v1/configuration/backup', { as: 'none', body: { password: 'x' } });
    expect([none.status, none.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(none.headers['www-authenticate']).toBe('Basic realm="coffer"');
    const bad = await curl(['-u', 'admin:wrong', `${url}/api/v1/configuration/backup`, '-X', 'PUT', '-F', 'password=x', '-F', `backup=@${zipFile}`]);
    expect([bad.status, JSON.parse(bad.body).code]).toEqual([401, 'UNAUTHORIZED']);
    // An API key of an admin works as well as Basic.
    expect((await api.call('POST', '/api/v1/configuration/backup', { as: 'admin', body: { password: 'x' } })).status).toBe(200);
  }, 60_000);

  it('documents both routes in the OpenAPI document', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body;
    const ops = doc.paths['/api/v1/configuration/backup'];
    expect(Object.keys(ops).sort()).toEqual(['post', 'put']);
    expect(Object.keys(ops.put.requestBody.content)).toEqual(['multipart/form-data']);
    expect(ops.put.responses['204']).toBeDefined();
    expect(ops.post.responses['400']).toBeDefined();
  });

  it('a backup of device carries the configuration; restoring it into device puts the configuration back', async () => {
    const devicePart = path.join(api.dir, 'device-files');
    writeTree(devicePart, { 'etc/app.conf': 'x=1' });
    expect((await api.call('PUT', '/api/v1/instances/device', { body: { parts: [{ name: 'files', path: devicePart }] } })).status).toBe(200);
    const before = await state();
    const b = await backup('device');
    expect(b.status, b.status_info).toBe('success');
    // The snapshot holds the configuration file, sealed under the server secret.
    const rec = await api.core.catalog.backups.get(Number(String(b.id).replace('backup-', '')));
    const dir = (rec!.extra!['part_paths'] as Record<string, string>)['coffer-configuration']!;
    expect(dir).toBe(path.join(api.dir, 'data', 'state', 'configuration'));
    const repo = await api.core.repositories.open(rec!.repositoryId);
    expect((await repo.loadSnapshot(rec!.snapshotId!)).paths).toContain(dir);
    const copy = JSON.parse(fs.readFileSync(path.join(dir, 'coffer-configuration.json'), 'utf8'));
    expect(copy.sealing).toEqual({ method: 'server-secret', cipher: 'aes-256-gcm' });
    expect(JSON.stringify(copy)).not.toContain(OFFSITE_PASSWORD);

    // Change the configuration, then restore the device backup into device.
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'late', role: 'admin' } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/device', { body: { parts: [] } })).status).toBe(200);
    const job = await api.call('POST', `/api/v1/backup/restore/${b.id}`, { body: {} });
    expect(job.status, job.text).toBe(202);
    const done = await restoreDone(job.body.job_id);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    await until('services restarted', async () => (await api.call('GET', '/api/v1/audit?action=configuration.restore')).body.length > 0 || undefined, 30_000, 50);
    expect(await state()).toEqual(before);
    // And the runner runs again after the restart.
    expect((await backup('web')).status).toBe('success');
  }, 120_000);

  it('a second server adopts the secret of the configuration it restores (atomically written, 0600) and opens the repositories', async () => {
    const other = await startApi(cat);
    try {
      const zip = fs.readFileSync(zipFile);
      const secretFile = path.join(other.dir, 'data', 'secret.key');
      // Before: this server backs up its device into the same offsite repository (its configuration sealed under ITS secret).
      expect((await other.call('POST', '/api/v1/repositories', { body: { name: 'offsite', location: path.join(api.dir, 'offsite'), password: OFFSITE_PASSWORD } })).status).toBe(201);
      expect((await other.call('PUT', '/api/v1/instances/device', { body: { parts: [], repository: 'offsite' } })).status).toBe(200);
      const made = await other.call('POST', '/api/v1/backup/create', { body: { instance: 'device', type: 'full' } });
      const deviceBackup = await until('device backup', async () => {
        const r = await other.call('GET', `/api/v1/backup/${made.body.backup_id}`);
        return ['success', 'error'].includes(r.body.status) ? r.body : undefined;
      }, 60_000, 50);
      expect(deviceBackup.status, deviceBackup.status_info).toBe('success');
      const mine = fs.readFileSync(path.join(api.dir, 'data', 'secret.key'), 'utf8').trim();
      expect(fs.readFileSync(secretFile, 'utf8').trim()).not.toBe(mine);
      await other.core.configuration.importEncrypted({ name: 'admin', role: 'admin' }, zip, BACKUP_PASSWORD);
      expect(fs.readFileSync(secretFile, 'utf8').trim()).toBe(mine);
      expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(path.dirname(secretFile)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      // The offsite repository (the first server's) opens here with its password, re-sealed under the adopted secret.
      const offsite = await other.core.repositories.byName('offsite');
      await expect(other.core.repositories.open(offsite.id)).resolves.toBeDefined();
      // Its users are the first server's: the old keys of this one are gone, the first one's work.
      const viewerKeyHere = other.keys.viewer;
      expect((await other.call('GET', '/api/v1/backup/list', { headers: { 'x-api-key': viewerKeyHere }, as: 'none' })).status).toBe(401);
      expect((await other.call('GET', '/api/v1/backup/list', { headers: { 'x-api-key': api.keys.viewer }, as: 'none' })).status).toBe(200);

      // That device backup's configuration was sealed under the secret this server had before: restoring it
      // puts the files back but leaves the configuration alone, and the job's result says so.
      const adopted = JSON.stringify(await other.core.catalog.users.list());
      const job = await other.call('POST', `/api/v1/backup/restore/${deviceBackup.id}`, { headers: { 'x-api-key': ADMIN_KEY }, as: 'none', body: {} });
      expect(job.status, job.text).toBe(202);
      const done = await until('restore', async () => {
        const r = await other.call('GET', `/api/v1/backup/restore/${job.body.job_id}/status`, { headers: { 'x-api-key': ADMIN_KEY }, as: 'none' });
        return r.body.status === 'running' ? undefined : r.body;
      }, 60_000, 50);
      expect(done.status).toBe('completed_with_errors');
      expect(done.error).toMatch(/Coffer's configuration was not restored \(.*altered or damaged.*\); the running configuration is unchanged/);
      expect(JSON.stringify(await other.core.catalog.users.list())).toBe(adopted);
    } finally {
      await other.close();
    }
  }, 120_000);

  it('reset to first start: admin only, no schedules or settings, device without parts; no repository or backup deleted', async () => {
    const backupsBefore = (await api.call('GET', '/api/v1/backup/list')).headers['x-total-count'];
    const reposBefore = (await state()).repositories;
    expect((await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'web', cron: '0 4 * * *' } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/scratch', { body: { parts: [] } })).status).toBeLessThan(300);
    await expect(api.core.configuration.resetToFirstStart({ name: 'viewer', role: 'viewer' })).rejects.toMatchObject({ code: 'forbidden' });
    const r = await api.core.configuration.resetToFirstStart(SYSTEM_ACTOR);
    expect(Date.parse(r.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(r.message).toMatch(/No repository and no backup was deleted/);
    const after = await state();
    expect(after.users).toEqual(['admin:admin']);
    expect(after.schedules).toEqual([]);
    expect(after.repositories).toEqual(reposBefore);
    // web has backups: kept; scratch had none: gone; device is back to no parts.
    expect(after.instances.map((i: { name: string }) => i.name).sort()).toEqual(['device', 'web']);
    expect(after.instances.find((i: { name: string }) => i.name === 'device').parts).toEqual([]);
    expect((await api.call('GET', '/api/v1/backup/list')).headers['x-total-count']).toBe(backupsBefore);
    expect(await api.core.catalog.settings.get('factory_reset_at')).toBe(r.at);
    // The admin signs in with the configured password and key; the others are gone.
    expect((await curl(['-u', basicAdmin, `${url}/api/v1/audit`])).status).toBe(200);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer' })).status).toBe(401);
    const audit = (await api.call('GET', '/api/v1/audit?action=configuration.reset')).body;
    expect(audit[0]).toMatchObject({ actor: 'system', action: 'configuration.reset' });
    // Services run after the reset.
    expect((await backup('web')).status).toBe('success');
  }, 120_000);
});
