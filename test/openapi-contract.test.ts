/**
 * The OpenAPI document is the contract, checked by third-party tools against a real server on
 * loopback: Redocly CLI lints the served document with its `recommended` rules (no problem at
 * all), and Stoplight Prism, as a validating proxy (`prism proxy --errors`), sits between this
 * test and the server while it drives every documented operation, successes and errors (400,
 * 401, 403, 404, 409). Prism answers a request the document forbids with its own 422/401, and a
 * response the document does not allow with its own 500; either fails the test. The operations
 * come from the document, so a new route that is not driven here fails the test too.
 *
 * Prism reads every non-JSON body as UTF-8 text, which corrupts binary uploads (the server then
 * rightly says the ZIP is damaged). Real backup files and the configuration restore's multipart
 * form are therefore sent straight to the server (`direct`, which does not count as covering an
 * operation); through Prism, uploads carry a body that is not a ZIP, so that Prism still checks
 * the request's media type and the 400 that follows. Polls go straight to the server too.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DESCRIPTION, MAX_USER_PASSWORD, MIN_USER_PASSWORD, NAME_PATTERN, USER_NAME_PATTERN } from '../src/core/index.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';
import { ROOT, tempDir } from './helpers.js';
import { until } from './server-process.js';
import { registeredRoutes } from './support/routes.js';

const [sqlite] = await catalogsUnderTest();
const REDOCLY = path.join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
const PRISM = path.join(ROOT, 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

type Doc = { paths: Record<string, Record<string, { operationId?: string }>> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function run(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts `prism proxy <doc> <upstream> --errors` on a free loopback port; resolves once it listens. */
async function startPrism(docFile: string, upstream: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [PRISM, 'proxy', docFile, upstream, '--errors', '-h', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await until('prism listening', async () => {
    if (child.exitCode !== null) throw new Error(`prism exited (${child.exitCode}):\n${out}`);
    return /Prism is listening/.test(out) || undefined;
  }, 30_000, 100);
  return { url, child, output: () => out };
}

interface Sent {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Uint8Array<ArrayBuffer>;
}

describe('the OpenAPI document is the contract', () => {
  let api: ApiUnderTest;
  let server: string;
  let prism: Awaited<ReturnType<typeof startPrism>> | undefined;
  let doc: Doc;
  let work: string;
  let docFile: string;
  /** operationId → what the test sent for it. */
  const exercised = new Map<string, string[]>();
  const violations: string[] = [];

  beforeAll(async () => {
    api = await startApi(sqlite!);
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    server = `http://127.0.0.1:${(api.app.server.address() as net.AddressInfo).port}`;
    doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body as Doc;
    work = tempDir('coffer-contract-');
    docFile = path.join(work, 'openapi.json');
    fs.writeFileSync(docFile, JSON.stringify(doc, null, 2));
  }, 60_000);

  afterAll(async () => {
    if (prism && prism.child.exitCode === null) {
      prism.child.kill('SIGTERM');
      await new Promise((r) => prism!.child.once('exit', r));
    }
    await api?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('passes Redocly\'s recommended rules with no error and no warning', async () => {
    // The repository's ignore file (each entry says why) applies to a document named openapi.json next to it.
    fs.copyFileSync(path.join(ROOT, '.redocly.lint-ignore.yaml'), path.join(work, '.redocly.lint-ignore.yaml'));
    const r = await run(REDOCLY, ['lint', 'openapi.json', '--extends=recommended', '--format=json'], work);
    const report = JSON.parse(r.stdout || '{}') as { totals?: Record<string, number>; problems?: { ruleId: string; severity: string; message: string; location?: { pointer?: string }[] }[] };
    const problems = (report.problems ?? []).filter((p) => p.severity !== 'off' && !('ignored' in p && p.ignored))
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
    expect(problems, r.stderr).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 2 });
  }, 60_000);

  it('every registered route is documented, except the front page and the hidden twins named here', () => {
    // Parameter names left out: Fastify's route tree names a shared parameter after its first route.
    const shape = (p: string) => p.replace(/:[a-z_]+(\|:[a-z_]+)*/gi, '{}').replace(/\{[a-z_]+\}/gi, '{}');
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => METHODS.filter((m) => ops[m]).map((m) => `${m.toUpperCase()} ${shape(p)}`)));
    // `/` is the HTML front page for people (src/api/plugins/front-page.ts), not an API operation.
    const undocumented = registeredRoutes(api.app).filter((r) => r.method !== 'HEAD' && !r.path.startsWith('/docs') && r.path !== '/')
      .map((r) => `${r.method} ${shape(r.path)}`).filter((r) => !documented.has(r));
    // Syncano's paths with the trailing slash, as Syncano's clients send them: the document has each once, without it.
    expect(undocumented.filter((r) => !(/^[A-Z]+ \/v1\/.*\/$/.test(r) && documented.has(r.slice(0, -1)))), undocumented.join('\n')).toEqual([]);
    expect(undocumented).toHaveLength(15);
  });

  it('every documented operation has a unique operationId', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => METHODS.filter((m) => ops[m]).map((m) => ops[m]!.operationId));
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)), ids.join(', ')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every response has a description, errors are JSON, and the headers clients need are declared', () => {
    type Response = { description: string; content?: Record<string, unknown>; headers?: Record<string, unknown> };
    const responses = Object.entries(doc.paths).flatMap(([p, ops]) => METHODS.filter((m) => ops[m]).flatMap((m) => Object.entries((ops[m] as { responses: Record<string, Response> }).responses)
      .map(([status, r]) => ({ at: `${m.toUpperCase()} ${p} ${status}`, status, r }))));
    const bad = (what: string, pred: (x: (typeof responses)[number]) => boolean) => responses.filter(pred).map((x) => `${what}: ${x.at}`);
    expect([
      ...bad('no real description', (x) => !x.r.description || x.r.description === 'Default Response'),
      ...bad('error not JSON', (x) => !x.status.startsWith('2') && x.r.content !== undefined && Object.keys(x.r.content).join() !== 'application/json'),
      ...bad('no Retry-After', (x) => ['429', '503'].includes(x.status) && !x.r.headers?.['Retry-After']),
      ...bad('download without Content-Disposition', (x) => x.status === '200' && Object.keys(x.r.content ?? {}).includes('application/zip') && !x.r.headers?.['Content-Disposition']),
    ]).toEqual([]);
    const listBackups = doc.paths['/api/v1/backup/list']!['get'] as { responses: Record<string, Response> };
    expect(listBackups.responses['200']!.headers?.['X-Total-Count']).toBeDefined();
  });

  it('publishes the limits core enforces, and the server holds to them', async () => {
    const body = (p: string, m: string) => (doc.paths[p]![m] as { requestBody: { required: boolean; content: Record<string, { schema: any }> } }).requestBody; // eslint-disable-line @typescript-eslint/no-explicit-any
    const schemaOf = (p: string, m: string) => {
      const s = body(p, m).content['application/json']!.schema;
      return s.$ref ? (doc as unknown as { components: { schemas: Record<string, any> } }).components.schemas[s.$ref.split('/').pop()]! : s; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const user = schemaOf('/api/v1/users', 'post').properties;
    expect(user.name.pattern).toBe(USER_NAME_PATTERN);
    expect(user.password).toMatchObject({ minLength: MIN_USER_PASSWORD, maxLength: MAX_USER_PASSWORD });
    expect(schemaOf('/api/v1/instances', 'post').properties.name.pattern).toBe(NAME_PATTERN);
    expect(schemaOf('/api/npm.backup/1.0/backups', 'post').properties.description.maxLength).toBe(MAX_DESCRIPTION);
    // A body whose fields are all optional may be left out (the server takes none as {}); one with required fields may not.
    expect(body('/api/v1/backup/create', 'post').required).toBe(false);
    expect(body('/api/v1/users', 'post').required).toBe(true);
    // The server: just outside each published limit is 400, at it is fine.
    expect((await api.call('POST', '/api/v1/users', { body: { name: '../etc', role: 'viewer' } })).status).toBe(400);
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'limits', role: 'viewer', password: 'x'.repeat(MIN_USER_PASSWORD - 1) } })).status).toBe(400);
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'limits', role: 'viewer', password: 'x'.repeat(MIN_USER_PASSWORD) } })).status).toBe(201);
    expect((await api.call('POST', '/api/v1/instances', { body: { name: '.hidden' } })).status).toBe(400);
    expect((await api.call('POST', '/api/npm.backup/1.0/backups', { body: { description: 'd'.repeat(MAX_DESCRIPTION + 1) } })).status).toBe(400);
    expect((await api.call('DELETE', '/api/v1/users/limits')).status).toBe(204);
  });

  it('traffic through Prism\'s validating proxy covers every operation with no violation', async () => {
    prism = await startPrism(docFile, server);
    const keys = { ...api.keys };

    /** One request for `operationId`, through Prism unless `direct`; a Prism verdict is recorded as a violation. */
    const send = async (operationId: string, method: string, url: string, o: {
      as?: 'admin' | 'viewer' | 'backup_operator' | 'none' | 'wrong'; json?: unknown; body?: string | Uint8Array<ArrayBuffer> | FormData; type?: string; direct?: boolean; expect?: number;
    } = {}): Promise<Sent> => {
      const who = o.as ?? 'admin';
      const headers: Record<string, string> = {};
      if (who === 'wrong') headers['x-api-key'] = 'cfr_not-a-key-0123456789abcdefghijklmnopqrstuv';
      else if (who !== 'none') headers['x-api-key'] = keys[who];
      let body: string | Uint8Array<ArrayBuffer> | FormData | undefined = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['content-type'] = 'application/json';
      }
      if (o.type) headers['content-type'] = o.type;
      const res = await fetch((o.direct ? server : prism!.url) + url, { method, headers, ...(body !== undefined ? { body } : {}) });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const text = Buffer.from(bytes).toString('utf8');
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      const line = `${operationId}: ${method} ${url} → ${res.status}`;
      // Only traffic that Prism saw counts as covering an operation.
      if (!o.direct) exercised.set(operationId, [...(exercised.get(operationId) ?? []), line]);
      const prismType = (parsed as { type?: unknown } | null)?.type;
      if (res.headers.get('sl-violations') || (typeof prismType === 'string' && prismType.startsWith('https://stoplight.io/prism/errors'))) {
        violations.push(`${line}: ${res.headers.get('sl-violations') ?? JSON.stringify(parsed)}`);
      } else if (o.expect !== undefined && res.status !== o.expect) {
        violations.push(`${line}: expected ${o.expect}: ${text.slice(0, 300)}`);
      }
      return { status: res.status, headers: res.headers, body: parsed, bytes };
    };
    // Polls go straight to the server (fewer hops); each polled operation is also sent through Prism once it is done.
    const pollUntil = <T>(what: string, fn: () => Promise<T | undefined>) => until(what, fn, 60_000, 50);

    // System and the document itself.
    await send('getHealth', 'GET', '/healthz', { as: 'none', expect: 200 });
    await send('getHealth', 'GET', '/healthz?probe=%00', { as: 'none', expect: 400 });
    await send('getOpenApiDocument', 'GET', '/api/v1/openapi.json', { as: 'none', expect: 200 });
    await send('getMetrics', 'GET', '/metrics', { as: 'viewer', expect: 200 });
    await send('getMetrics', 'GET', '/metrics', { as: 'wrong', expect: 401 });

    // Instances.
    const src = path.join(api.dir, 'src');
    writeTree(src, { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });
    const parts = [{ name: 'files', path: src }];
    await send('createInstance', 'POST', '/api/v1/instances', { json: { name: 'app', parts }, expect: 201 });
    await send('createInstance', 'POST', '/api/v1/instances', { json: { name: 'app', parts }, expect: 409 });
    await send('createInstance', 'POST', '/api/v1/instances', { as: 'viewer', json: { name: 'app9', parts }, expect: 403 });
    await send('listInstances', 'GET', '/api/v1/instances', { expect: 200 });
    await send('getInstance', 'GET', '/api/v1/instances/app', { expect: 200 });
    await send('getInstance', 'GET', '/api/v1/instances/nope', { expect: 404 });
    await send('putInstance', 'PUT', '/api/v1/instances/app2', { json: { parts }, expect: 201 });
    await send('putInstance', 'PUT', '/api/v1/instances/device', { json: { parts }, expect: 200 });

    // Backups, their files, restores.
    const created = await send('createBackup', 'POST', '/api/v1/backup/create', { json: { instance: 'app', type: 'full' }, expect: 201 });
    await send('createBackup', 'POST', '/api/v1/backup/create', { json: { instance: 'nope' }, expect: 404 });
    const backupId = created.body.id as string;
    await pollUntil('backup', async () => {
      const b = await send('getBackup', 'GET', `/api/v1/backup/${backupId}`, { direct: true, expect: 200 });
      return b.body?.status === 'success' || undefined;
    });
    await send('getBackup', 'GET', `/api/v1/backup/${backupId}`, { expect: 200 });
    await send('getBackup', 'GET', '/api/v1/backup/backup-99999', { expect: 404 });
    await send('listBackups', 'GET', '/api/v1/backup/list?instance=app&limit=5', { expect: 200 });
    await send('getBackupFile', 'GET', `/api/v1/backup/${backupId}/file`, { expect: 200 });
    await send('getBackupFile', 'GET', '/api/v1/backup/backup-99999/file', { expect: 404 });
    await send('getBackupFile', 'GET', `/api/v1/backup/${backupId}/file`, { as: 'viewer', expect: 403 });
    // The real file straight to the server (Prism would corrupt it), then a damaged one through Prism.
    const zip = (await send('getBackupFile', 'GET', `/api/v1/backup/${backupId}/file`, { direct: true, expect: 200 })).bytes;
    await send('uploadBackup', 'POST', '/api/v1/backup/upload?instance=app2', { direct: true, body: zip, type: 'application/zip', expect: 201 });
    await send('uploadBackup', 'POST', '/api/v1/backup/upload?instance=app2', { body: 'not a zip', type: 'application/octet-stream', expect: 400 });
    const restore = await send('restoreBackup', 'POST', `/api/v1/backup/restore/${backupId}`, { json: { mode: 'merge' }, expect: 202 });
    await send('restoreBackup', 'POST', '/api/v1/backup/restore/backup-99999', { json: {}, expect: 404 });
    await pollUntil('restore', async () => {
      const r = await send('getRestoreStatus', 'GET', `/api/v1/backup/restore/${restore.body.job_id}/status`, { direct: true, expect: 200 });
      return r.body?.status !== 'running' || undefined;
    });
    await send('getRestoreStatus', 'GET', `/api/v1/backup/restore/${restore.body.job_id}/status`, { expect: 200 });
    await send('getRestoreStatus', 'GET', '/api/v1/backup/restore/job-99999/status', { expect: 404 });

    // Schedules.
    const schedule = await send('createSchedule', 'POST', '/api/v1/backup/schedule', { json: { cron: '0 3 * * *', instance: 'app', keep_last: 3 }, expect: 201 });
    await send('createSchedule', 'POST', '/api/v1/backup/schedule', { json: { cron: 'not a cron' }, expect: 400 });
    await send('listSchedules', 'GET', '/api/v1/backup/schedule', { expect: 200 });
    await send('getSchedule', 'GET', `/api/v1/backup/schedule/${schedule.body.id}`, { expect: 200 });
    await send('updateSchedule', 'PUT', `/api/v1/backup/schedule/${schedule.body.id}`, { json: { enabled: false }, expect: 200 });
    await send('deleteSchedule', 'DELETE', `/api/v1/backup/schedule/${schedule.body.id}`, { expect: 204 });
    await send('getSchedule', 'GET', `/api/v1/backup/schedule/${schedule.body.id}`, { expect: 404 });

    // Users and their keys.
    await send('createUser', 'POST', '/api/v1/users', { json: { name: 'ops', role: 'backup_operator', password: 'ops-password' }, expect: 201 });
    await send('createUser', 'POST', '/api/v1/users', { json: { name: 'ops', role: 'viewer' }, expect: 409 });
    await send('createUser', 'POST', '/api/v1/users', { as: 'viewer', json: { name: 'other', role: 'viewer' }, expect: 403 });
    await send('listUsers', 'GET', '/api/v1/users', { expect: 200 });
    const key = await send('createApiKey', 'POST', '/api/v1/users/ops/keys', { json: { label: 'laptop' }, expect: 201 });
    await send('createApiKey', 'POST', '/api/v1/users/ops/keys', { expect: 201 });
    await send('listApiKeys', 'GET', '/api/v1/users/ops/keys', { expect: 200 });
    await send('deleteApiKey', 'DELETE', `/api/v1/users/ops/keys/${key.body.id}`, { expect: 204 });
    await send('deleteApiKey', 'DELETE', `/api/v1/users/ops/keys/${key.body.id}`, { expect: 404 });
    await send('deleteUser', 'DELETE', '/api/v1/users/ops', { expect: 204 });
    await send('deleteUser', 'DELETE', '/api/v1/users/admin', { expect: 409 });

    // Repositories.
    await send('listRepositories', 'GET', '/api/v1/repositories', { expect: 200 });
    await send('createRepository', 'POST', '/api/v1/repositories', { json: { name: 'second', location: path.join(api.dir, 'repo2') }, expect: 201 });
    await send('createRepository', 'POST', '/api/v1/repositories', { json: { name: 'second', location: path.join(api.dir, 'repo3') }, expect: 409 });
    await send('getRepositoryPassword', 'GET', '/api/v1/repositories/second/password', { expect: 200 });
    await send('getRepositoryPassword', 'GET', '/api/v1/repositories/nope/password', { expect: 404 });

    // Jobs and the audit log.
    const jobs = await send('listJobs', 'GET', '/api/v1/jobs?limit=5', { expect: 200 });
    const jobId = jobs.body[0].id as string;
    await send('getJob', 'GET', `/api/v1/jobs/${jobId}`, { expect: 200 });
    await send('followJobEvents', 'GET', `/api/v1/jobs/${jobId}/events`, { expect: 200 });
    await send('followJobEvents', 'GET', '/api/v1/jobs/job-99999/events', { expect: 404 });
    await send('cancelJob', 'POST', `/api/v1/jobs/${jobId}/cancel`, { expect: 409 });
    await send('listAuditEvents', 'GET', '/api/v1/audit?limit=5', { expect: 200 });

    // Syncano: JSON and form bodies, the key in the query, paths without and (straight to the server) with the slash.
    const full = await send('syncanoCreateFullBackup', 'POST', '/v1/instances/app/backups/full', { json: { label: 'json' }, expect: 201 });
    await send('syncanoCreateFullBackup', 'POST', '/v1/instances/app/backups/full', { body: 'label=form&description=posted+as+a+form', type: 'application/x-www-form-urlencoded', expect: 201 });
    await send('syncanoCreateFullBackup', 'POST', '/v1/instances/nope/backups/full', { json: {}, expect: 404 });
    const partial = await send('syncanoCreatePartialBackup', 'POST', '/v1/instances/app/backups/partial', { json: { query_args: { files: ['a.txt'] } }, expect: 201 });
    await send('syncanoCreatePartialBackup', 'POST', '/v1/instances/app/backups/partial', { json: { query_args: { unknown: null } }, expect: 400 });
    await send('syncanoListInstanceFullBackups', 'GET', `/v1/instances/app/backups/full?page_size=1&api_key=${keys.viewer}`, { as: 'none', expect: 200 });
    await send('syncanoListInstanceFullBackups', 'GET', '/v1/instances/app/backups/full/', { direct: true, expect: 200 });
    await send('syncanoListInstancePartialBackups', 'GET', '/v1/instances/app/backups/partial?ordering=desc', { expect: 200 });
    await send('syncanoDescribeFullBackups', 'OPTIONS', '/v1/instances/app/backups/full', { expect: 200 });
    await send('syncanoDescribePartialBackups', 'OPTIONS', '/v1/instances/app/backups/partial', { expect: 200 });
    await send('syncanoListFullBackups', 'GET', '/v1/backups/full', { expect: 200 });
    await send('syncanoListPartialBackups', 'GET', '/v1/backups/partial', { expect: 200 });
    await send('syncanoGetFullBackup', 'GET', `/v1/backups/full/${full.body.id}`, { expect: 200 });
    await send('syncanoGetFullBackup', 'GET', '/v1/backups/full/99999', { expect: 404 });
    const done = await pollUntil('partial backup', async () => {
      const b = await send('syncanoGetPartialBackup', 'GET', `/v1/backups/partial/${partial.body.id}`, { direct: true, expect: 200 });
      return b.body?.status === 'success' ? b.body as { archive: string } : undefined;
    });
    await send('syncanoGetPartialBackup', 'GET', `/v1/backups/partial/${partial.body.id}`, { expect: 200 });
    await send('syncanoGetArchive', 'GET', new URL(done.archive).pathname, { as: 'none', expect: 200 });
    await send('syncanoGetArchive', 'GET', '/v1/archives/not-a-token/backup.zip', { as: 'none', expect: 404 });
    await pollUntil('full backup', async () => {
      const b = await send('syncanoGetFullBackup', 'GET', `/v1/backups/full/${full.body.id}`, { direct: true, expect: 200 });
      return ['success', 'error'].includes(b.body?.status) || undefined;
    });
    const syncRestore = await send('syncanoCreateRestore', 'POST', '/v1/instances/app2/restores', { json: { backup: full.body.id }, expect: 201 });
    await send('syncanoCreateRestore', 'POST', '/v1/instances/app2/restores', { json: { backup: 99999 }, expect: 400 });
    await send('syncanoListRestores', 'GET', '/v1/instances/app2/restores', { expect: 200 });
    await pollUntil('syncano restore', async () => {
      const r = await send('syncanoGetRestore', 'GET', `/v1/instances/app2/restores/${syncRestore.body.id}`, { direct: true, expect: 200 });
      return !['running', 'scheduled'].includes(r.body?.status) || undefined;
    });
    await send('syncanoGetRestore', 'GET', `/v1/instances/app2/restores/${syncRestore.body.id}`, { expect: 200 });
    await send('syncanoDeleteFullBackup', 'DELETE', `/v1/backups/full/${full.body.id}`, { as: 'viewer', expect: 403 });
    await send('syncanoDeleteFullBackup', 'DELETE', `/v1/backups/full/${full.body.id}`, { expect: 204 });
    await send('syncanoDeletePartialBackup', 'DELETE', `/v1/backups/partial/${partial.body.id}`, { expect: 204 });
    await send('syncanoDeletePartialBackup', 'DELETE', `/v1/backups/partial/${partial.body.id}`, { expect: 404 });

    // Riverbed: the device instance.
    const rb = await send('riverbedCreateBackup', 'POST', '/api/npm.backup/1.0/backups', { json: { description: 'device backup' }, expect: 201 });
    await send('riverbedListBackups', 'GET', '/api/npm.backup/1.0/backups?limit=10', { expect: 200 });
    await pollUntil('riverbed backup', async () => {
      const b = await send('riverbedGetBackup', 'GET', `/api/npm.backup/1.0/backups/items/${rb.body.id}`, { direct: true, expect: 200 });
      return b.body?.status === 'completed' || undefined;
    });
    await send('riverbedGetBackup', 'GET', `/api/npm.backup/1.0/backups/items/${rb.body.id}`, { expect: 200 });
    await send('riverbedGetBackup', 'GET', '/api/npm.backup/1.0/backups/items/99999', { expect: 404 });
    await send('riverbedGetBackupFile', 'GET', `/api/npm.backup/1.0/backups/items/${rb.body.id}/file`, { expect: 200 });
    await send('riverbedGetBackupFile', 'GET', '/api/npm.backup/1.0/backups/items/99999/file', { expect: 404 });
    const rbZip = (await send('riverbedGetBackupFile', 'GET', `/api/npm.backup/1.0/backups/items/${rb.body.id}/file`, { direct: true, expect: 200 })).bytes;
    const up = await send('riverbedUploadBackup', 'POST', '/api/npm.backup/1.0/backups/upload', { direct: true, body: rbZip, type: 'application/octet-stream', expect: 201 });
    await send('riverbedUploadBackup', 'POST', '/api/npm.backup/1.0/backups/upload', { body: 'not a zip', type: 'application/zip', expect: 400 });
    await send('riverbedRestoreBackup', 'POST', `/api/npm.backup/1.0/backups/items/${rb.body.id}/restore`, { expect: 202 });
    await pollUntil('riverbed restore', async () => {
      const r = await send('riverbedGetRestoreStatus', 'GET', '/api/npm.backup/1.0/restore_status', { direct: true, expect: 200 });
      return !['started', 'running'].includes(r.body?.status) || undefined;
    });
    await send('riverbedGetRestoreStatus', 'GET', '/api/npm.backup/1.0/restore_status', { expect: 200 });
    await send('riverbedDeleteBackup', 'DELETE', `/api/npm.backup/1.0/backups/items/${up.body.id}`, { expect: 204 });
    await send('riverbedDeleteBackup', 'DELETE', `/api/npm.backup/1.0/backups/items/${up.body.id}`, { expect: 404 });

    // Native deletes, once nothing uses the backups any more.
    await send('deleteInstance', 'DELETE', '/api/v1/instances/app', { expect: 409 });
    await send('deleteBackup', 'DELETE', `/api/v1/backup/${backupId}`, { expect: 204 });
    await send('deleteBackup', 'DELETE', `/api/v1/backup/${backupId}`, { expect: 404 });
    await send('putInstance', 'PUT', '/api/v1/instances/spare', { json: {}, expect: 201 });
    await send('deleteInstance', 'DELETE', '/api/v1/instances/spare', { expect: 204 });

    // Notification channels and their deliveries (a webhook nobody listens on: the test message fails).
    const hook = { name: 'ops', kind: 'webhook', url: 'http://127.0.0.1:9/hook', events: ['job.failed'] };
    const channel = await send('createNotification', 'POST', '/api/v1/notifications', { json: hook, expect: 201 });
    await send('createNotification', 'POST', '/api/v1/notifications', { json: hook, expect: 409 });
    await send('createNotification', 'POST', '/api/v1/notifications', { as: 'viewer', json: { ...hook, name: 'ops2' }, expect: 403 });
    await send('listNotifications', 'GET', '/api/v1/notifications', { expect: 200 });
    await send('getNotification', 'GET', `/api/v1/notifications/${channel.body.id}`, { expect: 200 });
    await send('getNotification', 'GET', '/api/v1/notifications/notification-99999', { expect: 404 });
    await send('updateNotification', 'PUT', `/api/v1/notifications/${channel.body.id}`, { json: { events: ['job.failed', 'job.succeeded'] }, expect: 200 });
    const tried = await send('testNotification', 'POST', `/api/v1/notifications/${channel.body.id}/test`, { expect: 200 });
    await send('listNotificationDeliveries', 'GET', '/api/v1/notification-deliveries?status=failed', { expect: 200 });
    await send('listNotificationDeliveries', 'GET', '/api/v1/notification-deliveries', { as: 'viewer', expect: 403 });
    await send('retryNotificationDelivery', 'POST', `/api/v1/notification-deliveries/${tried.body.id}/retry`);
    await send('retryNotificationDelivery', 'POST', '/api/v1/notification-deliveries/delivery-99999/retry', { expect: 404 });
    await send('deleteNotification', 'DELETE', `/api/v1/notifications/${channel.body.id}`, { expect: 204 });
    await send('deleteNotification', 'DELETE', `/api/v1/notifications/${channel.body.id}`, { expect: 404 });

    // The configuration backup: the export through Prism; the restore's multipart form straight to the server.
    await send('exportConfiguration', 'POST', '/api/v1/configuration/backup', { json: { password: 'config-password' }, expect: 200 });
    await send('exportConfiguration', 'POST', '/api/v1/configuration/backup', { as: 'viewer', json: { password: 'config-password' }, expect: 403 });
    const exported = (await send('exportConfiguration', 'POST', '/api/v1/configuration/backup', { direct: true, json: { password: 'config-password' }, expect: 200 })).bytes;
    const form = (password: string, file: Uint8Array<ArrayBuffer> | string = exported) => {
      const f = new FormData();
      f.append('backup', new Blob([file], { type: 'application/zip' }), 'config.zip');
      f.append('password', password);
      return f;
    };
    await send('restoreConfiguration', 'PUT', '/api/v1/configuration/backup', { body: form('config-password', 'not a zip'), expect: 400 });
    await send('restoreConfiguration', 'PUT', '/api/v1/configuration/backup', { direct: true, body: form('wrong password'), expect: 400 });
    await send('restoreConfiguration', 'PUT', '/api/v1/configuration/backup', { direct: true, body: form('config-password'), expect: 204 });

    // Last: the factory reset (users and keys go back to first start; the admin's configured key stays).
    await send('riverbedResetFactory', 'POST', '/api/npm.backup/1.0/backups/reset_factory', { expect: 200 });

    if (violations.length) process.stderr.write(`Prism's log, last lines:\n${prism.output().slice(-3000)}\n`);
    expect(violations).toEqual([]);
    const documented = Object.values(doc.paths).flatMap((ops) => METHODS.filter((m) => ops[m]).map((m) => ops[m]!.operationId!)).sort();
    expect([...exercised.keys()].sort()).toEqual(documented);
  }, 120_000);
});
