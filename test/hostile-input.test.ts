/**
 * Hostile input, generated from the route table (every route Fastify registered, native and
 * dialects, joined with the OpenAPI document for query parameters and body fields), sent as every
 * role (none, viewer, backup_operator, admin): malformed JSON, bodies just over the limit, deep
 * nesting, a wrong type in each field, path-traversing and oversized strings in every path, query
 * and body string, non-finite numbers. Then symlink planting: a part holding a symlink to a
 * directory outside it, restores of paths through it, partial backups through it, an uploaded
 * backup whose part path points outside.
 *
 * Invariants: never a 5xx (a 503 only with Retry-After), no write outside a part's directory or
 * the data directory (a fingerprint of the sentinel directories before and after), the server
 * stays up (answers /healthz, no unhandled rejection). Values are sampled with a seeded random
 * source (the seed is printed; HOSTILE_SEED replays it), not crossed in full.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildZip, manifestText, mdata, mfile } from '../src/repo/archive/testing.js';
import { type ApiUnderTest, type Reply, type Who, ROLES_AND_NONE, startApi, writeTree } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';
import { type RouteSpec, routeTable } from './support/routes.js';
import { fingerprint, seededRng } from './support/storm.js';

const [sqlite] = await catalogsUnderTest();
const rng = seededRng('hostile-input', 'HOSTILE_SEED');
const SECRET = 'outside secret: must never be read or written through the API';
const PRECIOUS = 'precious outside file';

interface Violation {
  request: string;
  role: Who;
  status: number;
  body: string;
  invariant: string;
}

describe('hostile input on every route, as every role', () => {
  let api: ApiUnderTest;
  let sandbox: string;
  let outside: string;
  let part: string;
  let backupId: string;
  let jobId: string;
  let routes: RouteSpec[];
  const cwdBefore = process.cwd();
  const violations: Violation[] = [];
  const rejections: unknown[] = [];
  const onRejection = (err: unknown) => rejections.push(err);
  let before: Record<string, Record<string, string>>;
  let sent = 0;

  /** What must not change: the sentinel tree, the working directory (relative paths land there), and the parents of the parts. */
  const sentinels = () => ({
    outside: fingerprint(outside),
    cwd: fingerprint(path.join(sandbox, 'cwd')),
    sandbox: Object.fromEntries(fs.readdirSync(sandbox).map((n) => [n, ''])),
    www: Object.fromEntries(fs.readdirSync(path.join(sandbox, 'www')).map((n) => [n, ''])),
    dev: Object.fromEntries(fs.readdirSync(path.join(sandbox, 'dev')).map((n) => [n, ''])),
  });

  const check = (request: string, role: Who, r: Reply): void => {
    sent++;
    const bad = r.status >= 500 && !(r.status === 503 && r.headers['retry-after'] !== undefined);
    if (bad) violations.push({ request: request.slice(0, 200), role, status: r.status, body: r.text.slice(0, 200), invariant: r.status === 503 ? '503 without Retry-After' : 'no 5xx' });
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    sandbox = tempDir('coffer-hostile-');
    outside = path.join(sandbox, 'outside');
    part = path.join(sandbox, 'www', 'site');
    writeTree(outside, { 'secret.txt': SECRET, 's.txt': PRECIOUS, 'sub/deep.txt': PRECIOUS });
    writeTree(part, { 'index.html': '<h1>site</h1>', 'sub/s.txt': 'from the backup' });
    writeTree(path.join(sandbox, 'dev', 'files'), { 'a.txt': 'device' });
    fs.symlinkSync(outside, path.join(part, 'elink'));
    // Relative paths that a route resolves against the working directory land in the sandbox, three levels down.
    fs.mkdirSync(path.join(sandbox, 'cwd', 'a', 'b', 'c'), { recursive: true });
    process.chdir(path.join(sandbox, 'cwd', 'a', 'b', 'c'));

    api = await startApi(sqlite!);
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', kind: 'directory', path: part }] } })).status).toBe(201);
    expect((await api.call('PUT', '/api/v1/instances/device', { body: { parts: [{ name: 'files', kind: 'directory', path: path.join(sandbox, 'dev', 'files') }] } })).status).toBe(200);
    const b = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full' } });
    expect(b.status, b.text).toBe(201);
    expect((await api.backupDone(b.body.backup_id)).status).toBe('success');
    backupId = b.body.backup_id;
    jobId = b.body.job_id;
    expect((await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'web', cron: '0 0 1 1 *' } })).status).toBe(201);
    // The plant: the part's `sub` (a directory in the backup) is now a symlink to the outside.
    fs.rmSync(path.join(part, 'sub'), { recursive: true });
    fs.symlinkSync(outside, path.join(part, 'sub'));

    const doc = await api.call('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    routes = routeTable(api.app, doc.body);
    // The factory reset removes the test's users and keys: it goes last.
    routes.sort((a, b) => Number(a.path.endsWith('reset_factory')) - Number(b.path.endsWith('reset_factory')));
    before = sentinels();
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    process.chdir(cwdBefore);
    await api?.close();
    await sqlite?.cleanup();
    fs.rmSync(sandbox, { recursive: true, force: true });
  });

  const hostileStrings = () => ['../../etc', '/etc/passwd', 'a\0b', '%00', 'x'.repeat(5000), '../'.repeat(12) + 'outside', `${outside}/planted`, '..', '\u202e\ud800', '${jndi:ldap://127.0.0.1/x}'];
  const nonFinite = ['1e309', 'Infinity', '-Infinity', 'NaN', '-1e309', '1e400'];
  const sample = <T>(items: readonly T[], n: number): T[] => [...items].sort(() => rng.next() - 0.5).slice(0, n);

  /** A value a route accepts for this path parameter; DELETEs get ids that do not exist, so the fixtures stay. */
  const validParam = (route: RouteSpec, name: string): string => {
    const del = route.method === 'DELETE';
    if (route.path.endsWith('/status') || name === 'job_id') return jobId;
    switch (name) {
      case 'backup_id': return del ? 'backup-99999' : backupId;
      case 'id': return del ? '99999' : backupId.replace(/^backup-/, '');
      case 'schedule_id': return del ? 'schedule-99999' : 'schedule-1';
      case 'name': return route.path.startsWith('/api/v1/users') ? 'fuzzed-user' : 'fuzzed';
      case 'instance': return 'web';
      case 'key_id': return '99999';
      default: return 'x';
    }
  };
  /** encodeURIComponent, except that a lone surrogate goes out as the bytes Node would write for it. */
  const enc = (v: string): string => {
    try {
      return encodeURIComponent(v);
    } catch {
      return [...Buffer.from(v, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    }
  };
  const urlOf = (route: RouteSpec, params: string[], query = ''): string => {
    let i = 0;
    return route.path.replace(/:[a-z_]+/gi, () => enc(params[i++] ?? 'x')) + query;
  };
  const jobsEnded = () => until('every job to end', async () => {
    for (const state of ['scheduled', 'running']) if (Number((await api.call('GET', `/api/v1/jobs?state=${state}`)).headers['x-total-count']) > 0) return undefined;
    return true;
  }, 60_000, 200).catch(() => {});
  /** Records a write into the sentinel tree with the request that made it. */
  const watchOutside = async (request: string, fn: () => Promise<void>): Promise<void> => {
    const was = fingerprint(outside);
    await fn();
    const now = fingerprint(outside);
    const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => was[k] !== now[k]);
    if (changed.length) violations.push({ request, role: 'admin', status: 0, body: `changed outside: ${changed.join(', ')}`, invariant: 'no write outside a part or the data directory' });
  };

  /** A body that passes validation where the route has required fields, so that each mutation tests one field. */
  const baseBody = (route: RouteSpec): Record<string, unknown> => {
    const guesses: Record<string, unknown> = {
      instance: 'web', type: 'full', cron: '0 0 1 1 *', name: 'fuzzed', role: 'viewer', password: 'a-long-password-123', label: 'l',
      parts: [{ name: 'site', kind: 'directory', path: path.join(sandbox, 'cwd', 'fuzzpart') }], location: 'fuzzrepo', paths: ['site/index.html'], mode: 'merge',
    };
    return Object.fromEntries(route.body.filter((f) => f.name in guesses).map((f) => [f.name, guesses[f.name]]));
  };
  const wrongValue = (types: string[]): unknown => (types.includes('string') ? 12345 : types.includes('array') ? 'not-an-array' : types.includes('object') ? [1, 2] : types.includes('boolean') ? 'yes' : 'not-a-number');

  const send = async (route: RouteSpec, role: Who, o: { params?: string[]; query?: string; body?: unknown; payload?: string; type?: string }): Promise<void> => {
    const url = urlOf(route, o.params ?? route.params.map((p) => validParam(route, p)), o.query ?? '');
    const headers = o.type ? { 'content-type': o.type } : undefined;
    const r = await api.call(route.method as 'GET', url, { as: role, ...(o.body !== undefined ? { body: o.body } : {}), ...(o.payload !== undefined ? { payload: o.payload } : {}), ...(headers ? { headers } : {}) });
    check(`${route.method} ${url} ${o.payload !== undefined ? `payload(${o.payload.length} B) ${o.payload.slice(0, 60)}` : o.body !== undefined ? JSON.stringify(o.body).slice(0, 120) : ''}`, role, r);
  };

  it('answers every malformed, oversized, deep, mistyped and traversing request without a 5xx', async () => {
    const hasBody = (r: RouteSpec) => ['POST', 'PUT', 'DELETE', 'PATCH'].includes(r.method);
    const deepArray = '['.repeat(5000) + ']'.repeat(5000);
    const deepObject = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
    const oversized = `{"label":"${'a'.repeat(1024 * 1024)}"}`;
    for (const role of ROLES_AND_NONE) {
      for (const route of routes) {
        if (route.path.endsWith('/events')) continue; // an event stream of a running job does not end; its ids are covered by the job routes
        if (route.path.endsWith('reset_factory') && role === 'admin') continue; // last, below
        for (const value of sample(hostileStrings(), 3)) {
          if (route.params.length) await send(route, role, { params: route.params.map(() => value) });
        }
        for (const q of route.query) {
          const values = q.types.some((t) => t === 'integer' || t === 'number') ? sample(nonFinite, 3) : sample(hostileStrings(), 2);
          for (const v of values) await send(route, role, { query: `?${q.name}=${enc(v)}` });
        }
        if (!hasBody(route)) continue;
        await send(route, role, { payload: '{"instance": "web",', type: 'application/json' });
        await send(route, role, { payload: oversized, type: 'application/json' });
        await send(route, role, { payload: rng.next() < 0.5 ? deepArray : deepObject, type: 'application/json' });
        await send(route, role, { body: [1, 2, 3] });
        await send(route, role, { body: { ...baseBody(route), extra: { '1e309': 1e308 * 10 } } });
        for (const field of route.body) {
          await send(route, role, { body: { ...baseBody(route), [field.name]: wrongValue(field.types) } });
          if (field.types.includes('string')) for (const v of sample(hostileStrings(), 2)) await send(route, role, { body: { ...baseBody(route), [field.name]: v } });
          if (field.items?.includes('string')) for (const v of sample(hostileStrings(), 2)) await send(route, role, { body: { ...baseBody(route), [field.name]: [v] } });
          if (field.types.some((t) => t === 'integer' || t === 'number')) await send(route, role, { payload: JSON.stringify(baseBody(route)).replace(/^\{/, `{"${field.name}":1e309${route.body.length && Object.keys(baseBody(route)).length ? ',' : ''}`), type: 'application/json' });
        }
      }
    }
    // The factory reset as admin, last: it removes the test's users and keys.
    for (const route of routes.filter((r) => r.path.endsWith('reset_factory'))) await send(route, 'admin', {});
    process.stderr.write(`hostile-input: ${sent} requests over ${routes.length} routes (${routes.filter((r) => !r.documented).length} undocumented)\n`);
  }, 150_000);

  it('restores no path through a symlink planted in a part, and backs up nothing through one', async () => {
    await jobsEnded();
    // Restores of `sub/...` (a directory when backed up, a symlink to the outside now).
    for (const body of [{ paths: ['site/sub/s.txt'] }, { paths: ['site/sub/s.txt'], mode: 'exact' }, { paths: [`${part}/sub/s.txt`] }, { paths: ['site/sub'], mode: 'exact' }]) {
      const request = `POST /api/v1/backup/restore/${backupId} ${JSON.stringify(body)}`;
      await watchOutside(request, async () => {
        const r = await api.call('POST', `/api/v1/backup/restore/${backupId}`, { body });
        check(request, 'admin', r);
        if (r.status === 202) await api.restoreDone(r.body.job_id, 30_000);
      });
    }
    // Partial backups through the symlinks (Syncano's query_args), as the operator.
    for (const item of ['elink/secret.txt', 'sub/secret.txt', 'elink', 'sub']) {
      const r = await api.call('POST', '/v1/instances/web/backups/partial/', { as: 'admin', body: { query_args: { site: [item] } } });
      check(`POST /v1/instances/web/backups/partial/ ${item}`, 'admin', r);
      if (r.status !== 201 && r.status !== 202) continue;
      const id = String(r.body.id);
      const b = await api.backupDone(`backup-${id}`, 30_000);
      if (b.status !== 'success') continue;
      const file = await api.app.inject({ method: 'GET', url: `/api/v1/backup/backup-${id}/file`, headers: { 'x-api-key': api.keys.admin } });
      if (file.rawPayload.includes(Buffer.from(SECRET))) violations.push({ request: `partial backup of site/${item}`, role: 'admin', status: file.statusCode, body: 'the backup file holds the outside secret', invariant: 'no read through a symlink out of a part' });
    }
  }, 60_000);

  it('does not restore an uploaded backup to a part path it names outside the instance', async () => {
    const files = [mfile('content', 'dir'), mfile(`content${outside}`, 'dir'), mdata(`content${outside}/s.txt`, 'planted by upload')];
    const zip = path.join(sandbox, 'www', 'forged.zip');
    await buildZip(zip, [
      { name: 'content/', kind: 'dir' }, { name: `content${outside}/`, kind: 'dir' }, { name: `content${outside}/s.txt`, data: 'planted by upload' },
      { name: 'manifest.json', data: manifestText(files, { snapshot: { id: 'f'.repeat(64), time: '2024-01-02T03:04:05Z', hostname: 'h', paths: [outside], tags: [] }, metadata: { kind: 'coffer-instance-backup', part_paths: { ghost: outside } }, layout: { content_dir: 'content', snapshot_root: '/' } }) },
    ]);
    const payload = fs.readFileSync(zip);
    fs.rmSync(zip);
    const up = await api.app.inject({ method: 'POST', url: '/api/v1/backup/upload?instance=web', headers: { 'x-api-key': api.keys.admin, 'content-type': 'application/zip' }, payload });
    check('POST /api/v1/backup/upload?instance=web (forged part_paths)', 'admin', { status: up.statusCode, headers: up.headers, body: null, text: up.body });
    if (up.statusCode === 201) {
      const id = JSON.parse(up.body).id as string;
      for (const mode of ['merge', 'exact']) {
        const request = `POST /api/v1/backup/restore/${id} (uploaded with part_paths outside, ${mode})`;
        await watchOutside(request, async () => {
          const r = await api.call('POST', `/api/v1/backup/restore/${id}`, { body: { mode } });
          check(request, 'admin', r);
          if (r.status === 202) await api.restoreDone(r.body.job_id, 30_000);
        });
      }
    }
  }, 60_000);

  it('wrote nothing outside the parts and the data directory, stayed up, and never answered 5xx', async () => {
    await jobsEnded();
    expect((await api.call('GET', '/healthz', { as: 'none' })).status).toBe(200);
    const after = sentinels();
    /** Entries created, removed or rewritten; a new tree is named by its top, a directory's mtime change by what changed inside it. */
    const changed = (a: Record<string, string>, b: Record<string, string>) => {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
      const appeared = new Set(keys.filter((k) => a[k] === undefined || b[k] === undefined));
      return keys.filter((k) => !appeared.has(path.dirname(k)) && (appeared.has(k) || !a[k]!.startsWith('dir'))).map((k) => `${k}: ${a[k] ?? 'absent'} -> ${b[k] ?? 'absent'}`);
    };
    const writes = Object.fromEntries(Object.keys(before).map((k) => [k, changed(before[k as keyof typeof before]!, after[k as keyof typeof after]!)]));
    const distinct = new Map<string, Violation & { count: number }>();
    for (const v of violations) {
      const key = `${v.invariant} ${v.status} ${v.request.split(' ').slice(0, 2).join(' ').replace(/[0-9]+/g, 'N')} ${v.body.slice(0, 80)}`;
      const seen = distinct.get(key);
      if (seen) seen.count++;
      else distinct.set(key, { ...v, count: 1 });
    }
    if (distinct.size) process.stderr.write(`hostile-input violations:\n${[...distinct.values()].map((v) => `  [${v.invariant}] x${v.count} ${v.role}: ${v.request} -> ${v.status} ${v.body}`).join('\n')}\n`);
    expect({ writesOutside: writes, unhandledRejections: rejections.map(String) }).toEqual({ writesOutside: { outside: [], cwd: [], sandbox: [], www: [], dev: [] }, unhandledRejections: [] });
    expect([...distinct.values()].map((v) => `[${v.invariant}] x${v.count} ${v.role}: ${v.request} -> ${v.status} ${v.body}`)).toEqual([]);
  }, 90_000);
});
