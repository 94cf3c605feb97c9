/**
 * The role matrix: every route × no credentials / viewer / backup_operator / admin, on SQLite and
 * PostgreSQL. Without credentials every route but the public ones is 401 with a Basic challenge;
 * with them, the status shows whether the role passed (botserver's table: create/list admin or
 * backup_operator; restore, delete, schedules admin; viewer reads). Also: Basic and Bearer
 * sign-in, bad credentials, and throttling (429 with Retry-After).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/core/index.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { ADMIN_PASSWORD, type ApiUnderTest, type Who, startApi, writeTree } from './api-harness.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface Row {
  method: Method;
  /** The route as documented (checked against the OpenAPI document). */
  route: string;
  /** The concrete request a role sends (fixtures differ per role where a success changes state). */
  url: (who: Role) => string;
  body?: (who: Role) => unknown;
  /** A non-JSON body instead (a backup file upload), with its media type. */
  raw?: { type: string; data: Buffer };
  /** Expected status per role; a role not listed gets 403. */
  ok: Partial<Record<Role, number>>;
  public?: boolean;
}

const ALL = (status: number): Partial<Record<Role, number>> => ({ viewer: status, backup_operator: status, admin: status });
const OPERATORS = (status: number): Partial<Record<Role, number>> => ({ backup_operator: status, admin: status });
const ADMIN = (status: number): Partial<Record<Role, number>> => ({ admin: status });

describe.each(catalogs)('roles on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  // Fixtures made by the admin before the matrix runs.
  const fx = { backup: '', backup2: '', restoreJob: '', schedule: '', schedule2: '', key: '', job: '', notification: '', notification2: '', delivery: '' };

  beforeAll(async () => {
    api = await startApi(cat);
    const src = path.join(api.dir, 'src');
    writeTree(src, { 'a.txt': 'a' });
    const put = (name: string, dir: string) => api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: [{ name: 'p', path: dir }] } });
    for (const name of ['matrix', 'doomed']) expect((await put(name, src)).status).toBe(201);
    expect((await put('target', path.join(api.dir, 'target'))).status).toBe(201);
    const made = [];
    for (let i = 0; i < 2; i++) made.push(await api.call('POST', '/api/v1/backup/create', { body: { instance: 'matrix', type: 'full' } }));
    const done = (id: string) => until(`backup ${id}`, async () => (await api.call('GET', `/api/v1/backup/${id}`)).body.status === 'success' || undefined, 30_000, 50);
    for (const m of made) await done(m.body.backup_id);
    [fx.backup, fx.backup2] = made.map((m) => m.body.backup_id as string) as [string, string];
    fx.job = made[0]!.body.job_id;
    const r = await api.call('POST', `/api/v1/backup/restore/${fx.backup}`, { body: { target: 'target' } });
    fx.restoreJob = r.body.job_id;
    await until('restore', async () => (await api.call('GET', `/api/v1/backup/restore/${fx.restoreJob}/status`)).body.status !== 'running' || undefined, 30_000, 50);
    fx.schedule = (await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'matrix', cron: '0 3 * * *', enabled: false } })).body.id;
    fx.schedule2 = (await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'matrix', cron: '0 4 * * *', enabled: false } })).body.id;
    await api.call('POST', '/api/v1/users', { body: { name: 'keyholder', role: 'viewer' } });
    await api.call('POST', '/api/v1/users', { body: { name: 'doomed', role: 'viewer' } });
    fx.key = (await api.call('POST', '/api/v1/users/keyholder/keys', { body: { label: 'doomed' } })).body.id;
    // Channels to a port nothing answers on (the discard port): their test messages fail at once.
    const channel = (name: string) => api.call('POST', '/api/v1/notifications', { body: { name, kind: 'webhook', url: 'http://127.0.0.1:9/hook' } });
    fx.notification = (await channel('matrix')).body.id;
    fx.notification2 = (await channel('doomed')).body.id;
    fx.delivery = (await api.call('POST', `/api/v1/notifications/${fx.notification}/test`)).body.id;
  }, 90_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  const rows = (): Row[] => [
    { method: 'GET', route: '/healthz', url: () => '/healthz', ok: ALL(200), public: true },
    { method: 'GET', route: '/api/v1/openapi.json', url: () => '/api/v1/openapi.json', ok: ALL(200), public: true },
    { method: 'GET', route: '/docs', url: () => '/docs/', ok: ALL(200), public: true },
    { method: 'GET', route: '/metrics', url: () => '/metrics', ok: ALL(200) },
    // Native backup API (004's permission table). The deletion comes before the backups the
    // matrix starts, so that it need not wait for their repository locks.
    { method: 'DELETE', route: '/api/v1/backup/{backup_id}', url: () => `/api/v1/backup/${fx.backup2}`, ok: ADMIN(204) },
    { method: 'POST', route: '/api/v1/backup/create', url: () => '/api/v1/backup/create', body: () => ({ instance: 'matrix', type: 'incremental' }), ok: OPERATORS(201) },
    { method: 'GET', route: '/api/v1/backup/list', url: () => '/api/v1/backup/list', ok: ALL(200) },
    { method: 'GET', route: '/api/v1/backup/{backup_id}', url: () => `/api/v1/backup/${fx.backup}`, ok: ALL(200) },
    { method: 'GET', route: '/api/v1/backup/{backup_id}/file', url: () => `/api/v1/backup/${fx.backup}/file`, ok: OPERATORS(200) },
    // Not a backup file: an operator passes the role check and meets the 400.
    { method: 'POST', route: '/api/v1/backup/upload', url: () => '/api/v1/backup/upload?instance=matrix', raw: { type: 'application/octet-stream', data: Buffer.from('not a zip') }, ok: OPERATORS(400) },
    { method: 'POST', route: '/api/v1/backup/restore/{backup_id}', url: () => `/api/v1/backup/restore/${fx.backup}`, body: () => ({ target: 'target' }), ok: ADMIN(202) },
    { method: 'GET', route: '/api/v1/backup/restore/{job_id}/status', url: () => `/api/v1/backup/restore/${fx.restoreJob}/status`, ok: ALL(200) },
    { method: 'POST', route: '/api/v1/backup/schedule', url: () => '/api/v1/backup/schedule', body: () => ({ instance: 'matrix', cron: '0 5 * * *', enabled: false }), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/backup/schedule', url: () => '/api/v1/backup/schedule', ok: ALL(200) },
    { method: 'GET', route: '/api/v1/backup/schedule/{schedule_id}', url: () => `/api/v1/backup/schedule/${fx.schedule}`, ok: ALL(200) },
    { method: 'PUT', route: '/api/v1/backup/schedule/{schedule_id}', url: () => `/api/v1/backup/schedule/${fx.schedule}`, body: () => ({ keep_last: 3 }), ok: ADMIN(200) },
    { method: 'DELETE', route: '/api/v1/backup/schedule/{schedule_id}', url: () => `/api/v1/backup/schedule/${fx.schedule2}`, ok: ADMIN(204) },
    // Instances.
    { method: 'POST', route: '/api/v1/instances', url: () => '/api/v1/instances', body: (who) => ({ name: `new-${who}`, parts: [] }), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/instances', url: () => '/api/v1/instances', ok: ALL(200) },
    { method: 'GET', route: '/api/v1/instances/{name}', url: () => '/api/v1/instances/matrix', ok: ALL(200) },
    { method: 'PUT', route: '/api/v1/instances/{name}', url: (who) => `/api/v1/instances/put-${who}`, body: () => ({ description: 'made by PUT' }), ok: ADMIN(201) },
    { method: 'DELETE', route: '/api/v1/instances/{name}', url: () => '/api/v1/instances/doomed', ok: ADMIN(204) },
    // Users and keys (a user's own keys are theirs to manage: see below).
    { method: 'POST', route: '/api/v1/users', url: () => '/api/v1/users', body: (who) => ({ name: `user-${who}`, role: 'viewer' }), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/users', url: () => '/api/v1/users', ok: ADMIN(200) },
    { method: 'DELETE', route: '/api/v1/users/{name}', url: () => '/api/v1/users/doomed', ok: ADMIN(204) },
    { method: 'POST', route: '/api/v1/users/{name}/keys', url: () => '/api/v1/users/keyholder/keys', body: () => ({}), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/users/{name}/keys', url: () => '/api/v1/users/keyholder/keys', ok: ADMIN(200) },
    { method: 'DELETE', route: '/api/v1/users/{name}/keys/{key_id}', url: () => `/api/v1/users/keyholder/keys/${fx.key}`, ok: ADMIN(204) },
    // Repositories, jobs, audit.
    { method: 'GET', route: '/api/v1/repositories', url: () => '/api/v1/repositories', ok: ADMIN(200) },
    { method: 'POST', route: '/api/v1/repositories', url: () => '/api/v1/repositories', body: (who) => ({ name: `repo-${who}`, location: path.join(api.dir, `repo-${who}`) }), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/repositories/{name}/password', url: () => '/api/v1/repositories/default/password', ok: ADMIN(200) },
    { method: 'GET', route: '/api/v1/jobs', url: () => '/api/v1/jobs', ok: ALL(200) },
    { method: 'GET', route: '/api/v1/jobs/{job_id}', url: () => `/api/v1/jobs/${fx.job}`, ok: ALL(200) },
    // The job has ended: an operator passes the role check and meets the conflict.
    { method: 'POST', route: '/api/v1/jobs/{job_id}/cancel', url: () => `/api/v1/jobs/${fx.job}/cancel`, ok: OPERATORS(409) },
    { method: 'GET', route: '/api/v1/jobs/{job_id}/events', url: () => `/api/v1/jobs/${fx.job}/events`, ok: ALL(200) },
    { method: 'GET', route: '/api/v1/audit', url: () => '/api/v1/audit', ok: ADMIN(200) },
    // Notifications: admins only (channel URLs are credentials).
    { method: 'GET', route: '/api/v1/notifications', url: () => '/api/v1/notifications', ok: ADMIN(200) },
    { method: 'POST', route: '/api/v1/notifications', url: () => '/api/v1/notifications', body: (who) => ({ name: `n-${who}`, kind: 'webhook', url: 'http://127.0.0.1:9/hook' }), ok: ADMIN(201) },
    { method: 'GET', route: '/api/v1/notifications/{notification_id}', url: () => `/api/v1/notifications/${fx.notification}`, ok: ADMIN(200) },
    { method: 'PUT', route: '/api/v1/notifications/{notification_id}', url: () => `/api/v1/notifications/${fx.notification}`, body: () => ({ events: ['job.failed', 'schedule.overdue'] }), ok: ADMIN(200) },
    { method: 'POST', route: '/api/v1/notifications/{notification_id}/test', url: () => `/api/v1/notifications/${fx.notification}/test`, ok: ADMIN(200) },
    { method: 'DELETE', route: '/api/v1/notifications/{notification_id}', url: () => `/api/v1/notifications/${fx.notification2}`, ok: ADMIN(204) },
    { method: 'GET', route: '/api/v1/notification-deliveries', url: () => '/api/v1/notification-deliveries', ok: ADMIN(200) },
    { method: 'POST', route: '/api/v1/notification-deliveries/{delivery_id}/retry', url: () => `/api/v1/notification-deliveries/${fx.delivery}/retry`, ok: ADMIN(200) },
  ];

  it('every route × no credentials / viewer / backup_operator / admin', async () => {
    const got: string[] = [];
    const want: string[] = [];
    // Least privileged first, so that an admin's success (a deletion) cannot change what the others see.
    for (const row of rows()) {
      for (const who of ['none', 'viewer', 'backup_operator', 'admin'] as const satisfies readonly Who[]) {
        const role: Role = who === 'none' ? 'viewer' : who;
        const body = row.body?.(role);
        const r = await api.call(row.method, row.url(role), { as: who, ...(body !== undefined ? { body } : {}), ...(row.raw ? { payload: row.raw.data, headers: { 'content-type': row.raw.type } } : {}) });
        const expected = who === 'none' ? (row.public ? row.ok.viewer! : 401) : (row.ok[who] ?? 403);
        got.push(`${row.method} ${row.route} as ${who}: ${r.status}`);
        want.push(`${row.method} ${row.route} as ${who}: ${expected}`);
        if (r.status === 401) expect(r.headers['www-authenticate']).toBe('Basic realm="coffer"');
        if (r.status === 403) expect(r.body.error).toBe('forbidden');
      }
    }
    expect(got).toEqual(want);
  }, 60_000);

  it('the matrix covers every route of the OpenAPI document', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body as { paths: Record<string, Record<string, unknown>> };
    // The Syncano dialect's routes (/v1/…) have their role checks in test/dialect-syncano.test.ts, Riverbed's in test/dialect-riverbed.test.ts,
    // the configuration backup's (admins only, with its own error shape) in test/dialect-configuration.test.ts.
    const dialects = ['/v1/', '/api/npm.backup/', '/api/v1/configuration/'];
    const documented = Object.entries(doc.paths).filter(([p]) => !dialects.some((prefix) => p.startsWith(prefix)))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    // The docs UI is not in the document (the document itself is).
    const covered = rows().filter((r) => r.route !== '/docs').map((r) => `${r.method} ${r.route}`).sort();
    expect(covered).toEqual(documented);
  });

  it('users manage their own API keys whatever their role', async () => {
    const mine = await api.call('POST', '/api/v1/users/viewer/keys', { as: 'viewer', body: { label: 'laptop' } });
    expect(mine.status).toBe(201);
    expect((await api.call('GET', '/api/v1/users/viewer/keys', { as: 'viewer' })).status).toBe(200);
    expect((await api.call('DELETE', `/api/v1/users/viewer/keys/${mine.body.id}`, { as: 'viewer' })).status).toBe(204);
    expect((await api.call('GET', '/api/v1/users/backup_operator/keys', { as: 'viewer' })).status).toBe(403);
  });

  it('signs in with Basic, Bearer and X-API-KEY; bad credentials are 401 with a Basic challenge', async () => {
    const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
    expect((await api.call('GET', '/api/v1/audit', { as: 'none', headers: basic('admin', ADMIN_PASSWORD) })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'none', headers: basic('viewer', 'viewer-password') })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/audit', { as: 'none', headers: basic('viewer', 'viewer-password') })).status).toBe(403);
    expect((await api.call('GET', '/api/v1/audit', { as: 'none', headers: { authorization: `Bearer ${api.keys.admin}` } })).status).toBe(200);
    for (const headers of [
      basic('admin', 'wrong'), basic('nobody', 'x'), { authorization: 'Basic !!!' }, { authorization: 'Basic ' + Buffer.from('no-colon').toString('base64') },
      { authorization: 'Bearer cfr_wrong' }, { authorization: 'Bearer' }, { authorization: 'Digest abc' }, { 'x-api-key': 'not-a-key' },
      basic('ad\0min', 'x'),
    ]) {
      const r = await api.call('GET', '/api/v1/backup/list', { as: 'none', headers, remoteAddress: '10.0.0.1' });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="coffer"');
      expect(r.body.error).toBe('unauthorized');
    }
  });

  it('throttles guessing: after repeated failures from one address, 429 with Retry-After', async () => {
    const guess = () => api.call('GET', '/api/v1/backup/list', { as: 'none', headers: { 'x-api-key': 'cfr_guess' }, remoteAddress: '10.0.0.99' });
    let r = await guess();
    for (let i = 0; i < 20 && r.status === 401; i++) r = await guess();
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('too_many_attempts');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Other addresses are not affected.
    expect((await api.call('GET', '/api/v1/backup/list', { as: 'viewer', remoteAddress: '10.0.0.100' })).status).toBe(200);
  });
});
