/**
 * Bad input never makes a 500: malformed JSON, wrong types, unknown fields' types, unknown ids and
 * routes, huge and deep bodies, wrong media types, NUL characters (which PostgreSQL refuses) — all
 * 4xx with `{"error", "message"}` naming the field. Also the OpenAPI document, /healthz, /metrics,
 * the mapping of every core error code, and response validation catching drift.
 */
import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORE_ERROR_REPLY } from '../src/api/index.js';
import { responseValidationPlugin } from '../src/api/plugins/response-validation.js';
import { errorHandler } from '../src/api/errors.js';
import { CORE_ERROR_CODES } from '../src/core/index.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { type ApiUnderTest, startApi } from './api-harness.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('bad input on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(cat);
    expect((await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 1 * * *', enabled: false } })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  const expect4xx = (r: { status: number; body: { error?: unknown; message?: unknown } }, status: number, message?: RegExp) => {
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(typeof r.body.error).toBe('string');
    expect(typeof r.body.message).toBe('string');
    if (message) expect(r.body.message).toMatch(message);
  };

  it('wrong types and values are 400 naming the field', async () => {
    const create = (body: unknown) => api.call('POST', '/api/v1/backup/create', { body });
    expect4xx(await create({ type: 'weekly' }), 400, /^body\.type must be one of full, incremental, differential$/);
    expect4xx(await create({ type: 5 }), 400, /body\.type/);
    expect4xx(await create({ include_files: 'true' }), 400, /^body\.include_files must be boolean$/);
    expect4xx(await create({ label: 42 }), 400, /body\.label/);
    expect4xx(await create({ label: 'x'.repeat(65) }), 400, /label/);
    expect4xx(await create({ include_files: false, include_database: false }), 400, /include_files/);
    expect4xx(await create([1, 2]), 400, /^body must be object$/);
    expect4xx(await create('just a string'), 400, /body/);
    expect4xx(await create(null), 400, /^body must be object$/);
    expect4xx(await api.call('POST', '/api/v1/backup/schedule', { body: { type: 'full' } }), 400, /^body\.cron is required$/);
    expect4xx(await api.call('POST', '/api/v1/backup/schedule', { body: { cron: 'every day' } }), 400, /cron/);
    expect4xx(await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 1 * * *', timezone: 'Mars/Olympus' } }), 400, /timezone/);
    expect4xx(await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 1 * * *', keep_last: -1 } }), 400, /body\.keep_last must be >= 0/);
    expect4xx(await api.call('POST', '/api/v1/backup/schedule', { body: { cron: '0 1 * * *', retention_days: 1.5 } }), 400, /retention_days/);
    expect4xx(await api.call('PUT', '/api/v1/instances/x', { body: { parts: [{ name: 'p', path: 'relative/path' }] } }), 400, /parts\[0\]\.path/);
    expect4xx(await api.call('PUT', '/api/v1/instances/x', { body: { parts: [{ name: 'p', kind: 'database', path: '/tmp' }] } }), 400, /^body\.parts\[0\]\.kind must be one of directory$/);
    expect4xx(await api.call('PUT', '/api/v1/instances/x', { body: { parts: 'all of it' } }), 400, /body\.parts must be array/);
    expect4xx(await api.call('PUT', '/api/v1/instances/bad name!', { body: {} }), 400, /name/);
    expect4xx(await api.call('POST', '/api/v1/users', { body: { name: 'u', role: 'superuser' } }), 400, /^body\.role must be one of admin, backup_operator, viewer$/);
    expect4xx(await api.call('POST', '/api/v1/users', { body: { name: 'u', role: 'viewer', password: 'short' } }), 400, /password/);
    expect4xx(await api.call('POST', '/api/v1/backup/restore/backup-1', { body: { paths: 'a' } }), 400, /body\.paths must be array/);
    expect4xx(await api.call('POST', '/api/v1/repositories', { body: { name: 'r', location: '' } }), 400, /location/);
  });

  it('query parameters: wrong values are 400, limit at most 1000', async () => {
    expect4xx(await api.call('GET', '/api/v1/backup/list?limit=1001'), 400, /^query\.limit must be <= 1000$/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?limit=0'), 400, /query\.limit/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?limit=ten'), 400, /^query\.limit must be integer$/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?offset=-1'), 400, /query\.offset/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?offset=99999999999999999999'), 400, /query\.offset/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?status=done'), 400, /^query\.status must be one of scheduled, running, uploading, success, error$/);
    expect4xx(await api.call('GET', '/api/v1/jobs?kind=upload'), 400, /query\.kind/);
    expect((await api.call('GET', '/api/v1/backup/list?limit=1000&offset=5&unknown=1')).status).toBe(200);
  });

  it('unknown or unparseable ids and names are 404, unknown routes too', async () => {
    for (const url of [
      '/api/v1/backup/backup-999999', '/api/v1/backup/999999', '/api/v1/backup/backup-0', '/api/v1/backup/backup-x', '/api/v1/backup/-1',
      '/api/v1/backup/backup-99999999999', '/api/v1/backup/1e3', '/api/v1/backup/job-1', '/api/v1/backup/' + 'x'.repeat(100),
      '/api/v1/backup/restore/job-999999/status', '/api/v1/backup/restore/nope/status', '/api/v1/backup/schedule/schedule-999999',
      '/api/v1/backup/schedule/nope', '/api/v1/jobs/job-999999', '/api/v1/jobs/nope', '/api/v1/instances/nonesuch',
      '/api/v1/users/nobody/keys', '/api/v1/nothing', '/nothing', '/api/v1/backup/list/extra',
    ]) {
      const r = await api.call('GET', url);
      expect(r.status, url).toBe(404);
      expect(r.body.error, url).toBe('not_found');
    }
    for (const [method, url] of [
      ['DELETE', '/api/v1/backup/backup-999999'], ['DELETE', '/api/v1/backup/%20'], ['PUT', '/api/v1/backup/schedule/schedule-999999'],
      ['DELETE', '/api/v1/backup/schedule/schedule-0'], ['POST', '/api/v1/jobs/nope/cancel'], ['DELETE', '/api/v1/users/viewer/keys/key-999999'],
      ['DELETE', '/api/v1/users/viewer/keys/abc'], ['DELETE', '/api/v1/users/nobody'], ['DELETE', '/api/v1/instances/nonesuch'],
      ['PATCH', '/api/v1/backup/list'],
    ] as const) {
      const r = await api.call(method, url, method === 'PUT' ? { body: {} } : {});
      expect(r.status, `${method} ${url}`).toBe(404);
    }
    // A path parameter longer than the router takes is 414 (URI too long), still JSON.
    const long = await api.call('GET', '/api/v1/backup/' + 'x'.repeat(5000));
    expect(long.status).toBe(414);
    expect(long.body.error).toBe('uri_too_long');
    const malformed = await api.call('GET', '/api/v1/instances/%zz');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('bad_request');
    // Unknown routes answer 404 even without credentials.
    expect((await api.call('GET', '/api/v2/anything', { as: 'none' })).status).toBe(404);
  });

  it('malformed JSON, wrong media types, huge and deep bodies are 4xx', async () => {
    const raw = (payload: string | Buffer, contentType = 'application/json') => api.call('POST', '/api/v1/backup/create', { payload, headers: { 'content-type': contentType } });
    expect4xx(await raw('{"type": "full",'), 400, /^body is not valid JSON/);
    expect4xx(await raw('{type: full}'), 400, /JSON/);
    expect4xx(await raw('\u00ff\u00fe'), 400);
    expect4xx(await raw('{"type":"full"}', 'text/plain'), 415);
    expect4xx(await raw('type=full', 'application/x-www-form-urlencoded'), 415);
    expect4xx(await raw('<type>full</type>', 'application/xml'), 415);
    expect4xx(await raw(JSON.stringify({ label: 'x'.repeat(2 * 1024 * 1024) })), 413);
    expect4xx(await raw(Buffer.alloc(3 * 1024 * 1024, 0x20)), 413);
    expect4xx(await raw('['.repeat(100_000) + ']'.repeat(100_000)), 400);
    expect4xx(await raw(JSON.stringify({ label: 'a', nested: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) })), 400, /nested/);
    expect4xx(await raw('{"__proto__": {"admin": true}}'), 400, /__proto__/);
    expect4xx(await raw('{"constructor": {"prototype": {"admin": true}}}'), 400, /constructor/);
    // An empty JSON body is no fields at all: the defaults.
    const empty = await raw('');
    expect(empty.status).toBe(201);
    expect(empty.body.instance).toBe('device');
  });

  it('NUL characters are 400 wherever they come (PostgreSQL cannot store them)', async () => {
    expect4xx(await api.call('POST', '/api/v1/backup/create', { body: { label: 'a\u0000b' } }), 400, /^body\.label must not contain NUL characters$/);
    expect4xx(await api.call('POST', '/api/v1/instances', { body: { name: 'n', parts: [{ name: 'p', path: '/tmp/\u0000' }] } }), 400, /body\.parts\[0\]\.path/);
    expect4xx(await api.call('GET', '/api/v1/backup/list?instance=%00'), 400, /query\.instance/);
    expect4xx(await api.call('GET', '/api/v1/instances/a%00b'), 400, /params\.name/);
    expect4xx(await api.call('POST', '/api/v1/users', { body: { name: 'x\u0000', role: 'viewer' } }), 400, /body\.name/);
    expect4xx(await api.call('POST', '/api/v1/backup/create', { body: { ['bad\u0000key']: 1 } }), 400, /NUL/);
  });

  it('/healthz is public JSON, /metrics Prometheus text for any signed-in user', async () => {
    const h = await api.call('GET', '/healthz', { as: 'none' });
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok' });
    const m = await api.call('GET', '/metrics', { as: 'viewer' });
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(m.text).toMatch(/^# HELP coffer_jobs /m);
    expect(m.text).toMatch(/^# TYPE coffer_backup_bytes_processed_total counter$/m);
    expect(m.text).toMatch(/^coffer_jobs\{kind="backup",state="[a-z]+"\} \d+$/m);
    expect((await api.call('GET', '/metrics', { as: 'none' })).status).toBe(401);
  });

  it('serves a valid OpenAPI 3 document listing every route, its schemas and security schemes', async () => {
    const r = await api.call('GET', '/api/v1/openapi.json', { as: 'none' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const doc = JSON.parse(r.text);
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Coffer');
    // apiKeyQuery: `?api_key=`, on the Syncano routes only.
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'apiKeyQuery', 'basic', 'bearer']);
    expect(doc.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'X-API-KEY' });
    for (const s of ['Backup', 'BackupCreated', 'RestoreJob', 'Schedule', 'Instance', 'Job', 'Error']) expect(doc.components.schemas[s], s).toBeDefined();
    const routes = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>)
      .flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ route: `${m.toUpperCase()} ${p}`, op }))); // eslint-disable-line @typescript-eslint/no-unused-vars
    expect(routes.map((x) => x.route)).toEqual(expect.arrayContaining([
      'POST /api/v1/backup/create', 'GET /api/v1/backup/list', 'GET /api/v1/backup/{backup_id}', 'DELETE /api/v1/backup/{backup_id}',
      'POST /api/v1/backup/restore/{backup_id}', 'GET /api/v1/backup/restore/{job_id}/status', 'POST /api/v1/backup/schedule',
      'GET /api/v1/backup/schedule', 'PUT /api/v1/backup/schedule/{schedule_id}', 'DELETE /api/v1/backup/schedule/{schedule_id}',
      'POST /api/v1/instances', 'GET /api/v1/instances', 'GET /api/v1/instances/{name}', 'PUT /api/v1/instances/{name}', 'DELETE /api/v1/instances/{name}',
      'POST /api/v1/users', 'GET /api/v1/users', 'DELETE /api/v1/users/{name}', 'POST /api/v1/users/{name}/keys', 'GET /api/v1/users/{name}/keys',
      'DELETE /api/v1/users/{name}/keys/{key_id}', 'GET /api/v1/repositories', 'POST /api/v1/repositories', 'GET /api/v1/jobs', 'GET /api/v1/jobs/{job_id}',
      'POST /api/v1/jobs/{job_id}/cancel', 'GET /api/v1/jobs/{job_id}/events', 'GET /api/v1/audit', 'GET /healthz', 'GET /metrics',
    ]));
    // Every route documents its responses, errors as the shared Error schema; every reference resolves.
    for (const { route, op } of routes) {
      expect(Object.keys(op.responses).some((c) => c.startsWith('2')), route).toBe(true);
      // Public routes (no security: /healthz, Syncano's signed archive links) have no 401.
      if (op.security?.length !== 0) expect(op.responses['401'], route).toBeDefined();
    }
    const refs = [...r.text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').pop()!], ref).toBeDefined();
    }
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/api/v1/backup/create'].post.requestBody.content['application/json'].schema.properties.type.enum).toEqual(['full', 'incremental', 'differential']);
    const docs = await api.call('GET', '/docs/', { as: 'none' });
    expect(docs.status).toBe(200);
    expect(docs.headers['content-type']).toMatch(/^text\/html/);
  });
});

describe('error mapping and response validation', () => {
  it('maps every core error code to a status', () => {
    expect(Object.keys(CORE_ERROR_REPLY).sort()).toEqual([...CORE_ERROR_CODES].sort());
    expect(Object.fromEntries(Object.entries(CORE_ERROR_REPLY).map(([k, v]) => [k, v.status]))).toEqual({
      invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, quota_exceeded: 409, too_many_attempts: 429, unavailable: 503, internal: 500,
    });
  });

  it('a reply that does not match its schema becomes a 500 naming the problem; unexpected errors a bare 500', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    await app.register(responseValidationPlugin, { shared: [] });
    const Thing = Type.Object({ id: Type.String(), size: Type.Integer() }, { additionalProperties: false });
    app.get('/drift', { schema: { response: { 200: Thing } } }, async () => ({ id: 'a', size: 'big' }));
    app.get('/leak', { schema: { response: { 200: Thing } } }, async () => ({ id: 'a', size: 1, secret: 'x' }));
    app.get('/undeclared', { schema: { response: { 200: Thing } } }, async (_req, reply) => {
      reply.statusCode = 201;
      return { id: 'a', size: 1 };
    });
    app.get('/fine', { schema: { response: { 200: Thing } } }, async () => ({ id: 'a', size: 1 }));
    app.get('/boom', async () => {
      throw new Error('secret detail');
    });
    const drift = await app.inject('/drift');
    expect(drift.statusCode).toBe(500);
    expect(drift.json().message).toMatch(/response 200 of GET \/drift does not match its schema: response\.size must be integer/);
    expect((await app.inject('/leak')).json().message).toMatch(/response has an unknown field "secret"/);
    expect((await app.inject('/undeclared')).json().message).toMatch(/status 201 is not declared/);
    expect((await app.inject('/fine')).statusCode).toBe(200);
    const boom = await app.inject('/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toEqual({ error: 'internal', message: 'internal error' });
    await app.close();
  });
});
