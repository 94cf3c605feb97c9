/**
 * The resources around backups, on SQLite and PostgreSQL: instances (PUT creates or replaces),
 * schedules (partial updates), users (never a password hash) and their API keys (shown once,
 * usable at once, dead once deleted), repositories, and the audit log with paging.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { type ApiUnderTest, startApi } from './api-harness.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('resources on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(cat);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('instances: POST 201, GET list and one, PUT replaces (200) or creates (201), DELETE 204', async () => {
    const dir = path.join(api.dir, 'site');
    const created = await api.call('POST', '/api/v1/instances', { body: { name: 'shop', description: 'the shop', parts: [{ name: 'www', path: dir, exclude: ['*.log'] }] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'shop', description: 'the shop', repository: 'default', parts: [{ name: 'www', kind: 'directory', path: dir, exclude: ['*.log'] }] });
    expect((await api.call('POST', '/api/v1/instances', { body: { name: 'shop' } })).status).toBe(409);

    const list = await api.call('GET', '/api/v1/instances', { as: 'viewer' });
    expect(list.body.map((i: { name: string }) => i.name).sort()).toEqual(['device', 'shop']);
    expect((await api.call('GET', '/api/v1/instances/shop', { as: 'viewer' })).body.description).toBe('the shop');

    const replaced = await api.call('PUT', '/api/v1/instances/shop', { body: { parts: [{ name: 'db', path: `${dir}-db` }] } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: 'shop', description: null, parts: [{ name: 'db', kind: 'directory', path: `${dir}-db`, exclude: [] }] });
    expect((await api.call('PUT', '/api/v1/instances/shop', { body: { name: 'other' } })).status).toBe(400);
    expect((await api.call('PUT', '/api/v1/instances/fresh', { body: { description: 'new' } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/fresh2', { body: { repository: 'nonesuch' } })).status).toBe(400);

    expect((await api.call('DELETE', '/api/v1/instances/fresh')).status).toBe(204);
    expect((await api.call('GET', '/api/v1/instances/fresh')).status).toBe(404);
    const builtIn = await api.call('DELETE', '/api/v1/instances/device');
    expect(builtIn.status).toBe(409);
    expect(builtIn.body.message).toMatch(/built-in/);
  });

  it('schedules: POST 201 with defaults, GET list (filter by instance) and one, PUT is partial, DELETE 204', async () => {
    const s = await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 2 * * *', type: 'incremental', retention_days: 30 } });
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ instance: 'device', cron: '0 2 * * *', type: 'incremental', retention_days: 30, enabled: true, timezone: null, keep_last: null });
    expect(s.body.id).toMatch(/^schedule-\d+$/);
    expect(Date.parse(s.body.next_run_at)).toBeGreaterThan(Date.now());

    const t = await api.call('POST', '/api/v1/backup/schedule', {
      body: { instance: 'shop', cron: '30 */6 * * *', timezone: 'Europe/Berlin', type: 'full', keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_monthly: 12, keep_yearly: 2, keep_hourly: 24, label: 'six-hourly', enabled: false },
    });
    expect(t.status).toBe(201);
    expect(t.body).toMatchObject({ instance: 'shop', timezone: 'Europe/Berlin', keep_last: 3, keep_yearly: 2, label: 'six-hourly', enabled: false, next_run_at: null });
    expect((await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 2 * * *', instance: 'nonesuch' } })).status).toBe(404);

    expect((await api.call('GET', '/api/v1/backup/schedule', { as: 'viewer' })).body).toHaveLength(2);
    expect((await api.call('GET', '/api/v1/backup/schedule?instance=shop')).body.map((x: { id: string }) => x.id)).toEqual([t.body.id]);
    expect((await api.call('GET', `/api/v1/backup/schedule/${t.body.id}`)).body.cron).toBe('30 */6 * * *');

    const u = await api.call('PUT', `/api/v1/backup/schedule/${t.body.id}`, { body: { enabled: true, keep_last: null } });
    expect(u.status).toBe(200);
    expect(u.body).toMatchObject({ cron: '30 */6 * * *', timezone: 'Europe/Berlin', type: 'full', enabled: true, keep_last: null, keep_daily: 7, label: 'six-hourly' });
    expect(u.body.next_run_at).not.toBeNull();
    expect((await api.call('PUT', `/api/v1/backup/schedule/${t.body.id}`, { body: { cron: 'nope' } })).status).toBe(400);

    expect((await api.call('DELETE', `/api/v1/backup/schedule/${s.body.id}`)).status).toBe(204);
    expect((await api.call('GET', `/api/v1/backup/schedule/${s.body.id}`)).status).toBe(404);
  });

  it('users: POST 201 without the password hash, GET, duplicate 409, DELETE 204, the last admin stays', async () => {
    const u = await api.call('POST', '/api/v1/users', { body: { name: 'carol', role: 'backup_operator', password: 'carol-password' } });
    expect(u.status).toBe(201);
    expect(u.body).toEqual({ name: 'carol', role: 'backup_operator', has_password: true, created_at: expect.any(String) });
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'carol', role: 'viewer' } })).status).toBe(409);
    const list = await api.call('GET', '/api/v1/users');
    expect(list.body.map((x: { name: string }) => x.name)).toEqual(['admin', 'backup_operator', 'carol', 'viewer']);
    expect(list.text).not.toMatch(/argon2|password_hash|passwordHash/);
    const basic = { authorization: `Basic ${Buffer.from('carol:carol-password').toString('base64')}` };
    expect((await api.call('POST', '/api/v1/backup/create', { as: 'none', headers: basic, body: { instance: 'shop' } })).status).toBe(201);
    expect((await api.call('DELETE', '/api/v1/users/carol')).status).toBe(204);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic, remoteAddress: '10.1.1.1' })).status).toBe(401);
    const last = await api.call('DELETE', '/api/v1/users/admin');
    expect(last.status).toBe(409);
  });

  it('API keys: POST 201 returns the key once, it works at once, GET lists without it, DELETE 204 kills it', async () => {
    await api.call('POST', '/api/v1/users', { body: { name: 'dave', role: 'viewer' } });
    const k = await api.call('POST', '/api/v1/users/dave/keys', { body: { label: 'ci' } });
    expect(k.status).toBe(201);
    expect(k.body).toMatchObject({ id: expect.stringMatching(/^key-\d+$/), label: 'ci', key: expect.stringMatching(/^cfr_/) });
    expect(k.body.key.startsWith(k.body.prefix)).toBe(true);
    const asDave = { 'x-api-key': k.body.key };
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: asDave })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { authorization: `Bearer ${k.body.key}` } })).status).toBe(200);
    const keys = await api.call('GET', '/api/v1/users/dave/keys');
    expect(keys.body).toEqual([{ id: k.body.id, prefix: k.body.prefix, label: 'ci', created_at: k.body.created_at, last_used_at: expect.anything() }]);
    expect(keys.text).not.toContain(k.body.key);
    expect((await api.call('POST', '/api/v1/users/nobody/keys', { body: {} })).status).toBe(404);
    expect((await api.call('DELETE', `/api/v1/users/dave/keys/${k.body.id}`)).status).toBe(204);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: asDave, remoteAddress: '10.1.1.2' })).status).toBe(401);
    expect((await api.call('DELETE', `/api/v1/users/dave/keys/${k.body.id}`)).status).toBe(404);
  });

  it('repositories: GET lists without passwords, POST 201 creates one, a duplicate name is 409', async () => {
    const list = await api.call('GET', '/api/v1/repositories');
    expect(list.body).toEqual([{ id: expect.any(Number), name: 'default', location: path.join(api.dir, 'data', 'repo'), option_keys: [], created_at: expect.any(String) }]);
    const location = path.join(api.dir, 'second-repo');
    const r = await api.call('POST', '/api/v1/repositories', { body: { name: 'second', location } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'second', location });
    expect(r.text).not.toMatch(/password/i);
    expect((await api.call('POST', '/api/v1/repositories', { body: { name: 'second', location: `${location}-2` } })).status).toBe(409);
    expect((await api.call('PUT', '/api/v1/instances/on-second', { body: { repository: 'second' } })).body.repository).toBe('second');
  });

  it('repositories: backend options are kept sealed and listed by name only; bad names or values are 400', async () => {
    const location = path.join(api.dir, 'third-repo');
    const secret = 'sk-do-not-show-7f3a9c';
    const r = await api.call('POST', '/api/v1/repositories', { body: { name: 'third', location, options: { 's3.secret-access-key': secret, 's3.region': 'eu-west-1' } } });
    expect(r.status).toBe(201);
    expect(r.body.option_keys).toEqual(['s3.region', 's3.secret-access-key']);
    const list = await api.call('GET', '/api/v1/repositories');
    expect(list.body.find((x: { name: string }) => x.name === 'third').option_keys).toEqual(['s3.region', 's3.secret-access-key']);
    expect(list.text).not.toContain(secret);
    expect((await api.call('GET', '/api/v1/audit?action=repository.create')).text).not.toContain(secret);
    for (const options of [{ 'no-dot': 'x' }, { 'S3.Region': 'x' }, { 's3.region': 7 }, ['s3.region=x']]) {
      const bad = await api.call('POST', '/api/v1/repositories', { body: { name: 'fourth', location: `${location}-4`, options } });
      expect(bad.status, JSON.stringify(options)).toBe(400);
    }
    expect((await api.call('GET', '/api/v1/repositories')).body.map((x: { name: string }) => x.name)).not.toContain('fourth');
  });

  it('audit: newest first, filters, paging with X-Total-Count', async () => {
    const all = await api.call('GET', '/api/v1/audit');
    expect(all.status).toBe(200);
    const total = Number(all.headers['x-total-count']);
    expect(total).toBeGreaterThan(5);
    expect(all.body[0].id).toBeGreaterThan(all.body[1].id);
    const page = await api.call('GET', '/api/v1/audit?limit=2&offset=1');
    expect(page.headers['x-total-count']).toBe(String(total));
    expect(page.body.map((e: { id: number }) => e.id)).toEqual(all.body.slice(1, 3).map((e: { id: number }) => e.id));
    const creates = await api.call('GET', '/api/v1/audit?action=user.create');
    expect(creates.body.length).toBeGreaterThan(0);
    expect(creates.body.every((e: { action: string }) => e.action === 'user.create')).toBe(true);
    expect(creates.body.find((e: { target: string }) => e.target === 'user:carol')).toMatchObject({ actor: 'admin', ip: '127.0.0.1' });
    expect((await api.call('GET', '/api/v1/audit?actor=nobody')).body).toEqual([]);
  });
});
