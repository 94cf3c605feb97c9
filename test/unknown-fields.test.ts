/**
 * No silent surprises in the native API: a JSON body with a field the route does not know is a 400
 * that names the field, on every native route that takes a JSON body (generated from the route
 * table: every route Fastify registered under /api/v1, joined with its documented body), nested
 * objects with fixed fields included; free-form maps stay open. The dialects (Riverbed, Syncano)
 * keep ignoring fields they do not know, as their products' clients expect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiUnderTest, startApi } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { type FieldSpec, type RouteSpec, routeTable } from './support/routes.js';

const [sqlite] = await catalogsUnderTest();
const UNKNOWN = 'coffer_unknown_field';

/** A value of the field's documented type: enough for the schema's `required`, checked before unknown fields. */
function sample(f: FieldSpec): unknown {
  const t = f.types.find((x) => x !== 'null') ?? 'string';
  return ({ string: 'x', integer: 1, number: 1, boolean: false, array: [], object: {} } as Record<string, unknown>)[t] ?? 'x';
}

/** The route's required fields with plausible values, plus one field it does not know. */
function bodyWithUnknownField(route: RouteSpec): Record<string, unknown> {
  return { ...Object.fromEntries(route.body.filter((f) => f.required).map((f) => [f.name, sample(f)])), [UNKNOWN]: 1 };
}

describe('unknown fields in JSON bodies', () => {
  let api: ApiUnderTest;
  let routes: RouteSpec[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let doc: any;

  beforeAll(async () => {
    api = await startApi(sqlite!);
    const got = await api.call('GET', '/api/v1/openapi.json');
    expect(got.status).toBe(200);
    doc = got.body;
    routes = routeTable(api.app, doc).filter((r) => r.path.startsWith('/api/v1/') && r.body.length > 0);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await sqlite?.cleanup();
  });

  it('finds the native routes that take JSON bodies', () => {
    console.log(`${routes.length} native routes take a JSON body: ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`);
    const named = routes.map((r) => `${r.method} ${r.path}`);
    for (const r of ['POST /api/v1/backup/create', 'POST /api/v1/backup/schedule', 'PUT /api/v1/instances/:name', 'POST /api/v1/repositories', 'POST /api/v1/configuration/backup']) {
      expect(named).toContain(r);
    }
  });

  it('says so in the OpenAPI document', () => {
    const body = (path: string, method: string) => doc.paths[path][method].requestBody.content['application/json'].schema;
    expect(body('/api/v1/backup/create', 'post').additionalProperties).toBe(false);
    expect(body('/api/v1/instances/{name}', 'put').properties.parts.items.additionalProperties).toBe(false);
    expect(body('/api/v1/repositories', 'post').properties.options.additionalProperties).not.toBe(false);
  });

  it('answers 400 naming the field on every native JSON route', async () => {
    const wrong: string[] = [];
    for (const route of routes) {
      const url = route.path.replace(/:[a-z_]+/gi, 'x');
      const r = await api.call(route.method as 'POST', url, { body: bodyWithUnknownField(route) });
      const word = route.path.startsWith('/api/v1/configuration') ? r.body?.code === 'INVALID_REQUEST' : r.body?.error === 'bad_request';
      if (r.status !== 400 || !word || !String(r.body?.message).includes(`body has an unknown field "${UNKNOWN}"`)) {
        wrong.push(`${route.method} ${route.path}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses {"typ": "full"} and creates no backup', async () => {
    const count = async () => (await api.call('GET', '/api/v1/backup/list')).body.length as number;
    const before = await count();
    const r = await api.call('POST', '/api/v1/backup/create', { body: { typ: 'full' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'bad_request' });
    expect(r.body.message).toMatch(/^body has an unknown field "typ" \(known fields: instance, type, /);
    expect(await count()).toBe(before);
  });

  it('closes nested objects with fixed fields', async () => {
    const r = await api.call('PUT', '/api/v1/instances/nested', { body: { parts: [{ name: 'p', path: tempDir('coffer-nested-'), exlude: ['*.tmp'] }] } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^body\.parts\[0\] has an unknown field "exlude"/);
    expect((await api.call('GET', '/api/v1/instances/nested')).status).toBe(404);
  });

  it('keeps free-form maps open: repository options take any key', async () => {
    const r = await api.call('POST', '/api/v1/repositories', { body: { name: 'open-map', location: tempDir('coffer-map-'), options: { 'any.key': 'v' } } });
    expect(r.text).not.toMatch(/unknown field/);
  });

  it('keeps the dialects lenient: Riverbed and Syncano ignore fields they do not know', async () => {
    const riverbed = await api.call('POST', '/api/npm.backup/1.0/backups', { body: { description: 'lenient', [UNKNOWN]: 1 } });
    expect(riverbed.status, riverbed.text).toBe(201);
    const syncano = await api.call('POST', '/v1/instances/device/restores/', { body: { backup: 99999, [UNKNOWN]: 1 } });
    // DRF's answer about the one field it checks (no such backup), never about the unknown one.
    expect(syncano.status, syncano.text).toBe(400);
    expect(Object.keys(syncano.body)).toEqual(['backup']);
  });
});
