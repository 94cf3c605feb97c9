/**
 * The HTTP adapter under test: a real Core (temp data directory, default repository, the given
 * catalog) behind `buildApp` with response validation on, plus a user and an API key per role.
 * Requests go through Fastify's `inject`, so no port is opened unless a test asks for one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../src/api/index.js';
import { Core, type CoreOptions, type Role, SYSTEM_ACTOR } from '../src/core/index.js';
import type { CatalogUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';

export const ADMIN_PASSWORD = 'admin-password-for-api-tests';
export const ADMIN_KEY = 'cfr_api-test-admin-key-0123456789abcdefghijklmn';

export type Who = Role | 'none';
export const ROLES_AND_NONE: readonly Who[] = ['none', 'viewer', 'backup_operator', 'admin'];

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface ApiUnderTest {
  app: FastifyInstance;
  core: Core;
  dir: string;
  keys: Record<Role, string>;
  call(method: InjectOptions['method'], url: string, o?: { as?: Who; body?: unknown; headers?: Record<string, string>; payload?: string | Buffer; remoteAddress?: string }): Promise<Reply>;
  /** The backup (native view) once it ended in `success` or `error`. */
  backupDone(id: string, timeoutMs?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The restore's status once it is no longer `running`. */
  restoreDone(jobId: string, timeoutMs?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Closes app and core and removes the directory; the catalog's database goes with `cat.cleanup()`. */
  close(): Promise<void>;
}

export async function startApi(cat: CatalogUnderTest, coreOptions: Partial<CoreOptions> = {}): Promise<ApiUnderTest> {
  const dir = tempDir('coffer-api-');
  const core = await Core.start({
    dataDir: path.join(dir, 'data'), catalog: await cat.create(dir), adminPassword: ADMIN_PASSWORD, adminApiKey: ADMIN_KEY,
    jobConcurrency: 1, engineWorkers: 0, ...coreOptions,
  });
  const keys: Record<Role, string> = { admin: ADMIN_KEY, backup_operator: '', viewer: '' };
  for (const role of ['backup_operator', 'viewer'] as const) {
    await core.auth.createUser(SYSTEM_ACTOR, { name: role, role, password: `${role}-password` });
    keys[role] = (await core.auth.createKey(SYSTEM_ACTOR, role, 'tests')).key;
  }
  // Heartbeats every 300 ms instead of 15 s, so that a test can see one on a quiet stream.
  const app = await buildApp(core, { validateResponses: true, sseHeartbeatMs: 300, logger: process.env['COFFER_TEST_LOG'] ? { level: 'info' } : false });

  const call: ApiUnderTest['call'] = async (method, url, o = {}) => {
    const who = o.as ?? 'admin';
    const headers: Record<string, string> = { ...(who !== 'none' ? { 'x-api-key': keys[who] } : {}), ...o.headers };
    let payload = o.payload;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const r = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}), ...(o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}) });
    let body: unknown = r.body;
    try {
      body = r.body ? JSON.parse(r.body) : null;
    } catch {
      // not JSON (metrics, event streams, HTML): keep the text
    }
    return { status: r.statusCode, headers: r.headers, body, text: r.body };
  };

  const backupDone: ApiUnderTest['backupDone'] = (id, timeoutMs = 30_000) => until(`backup ${id}`, async () => {
    const r = await call('GET', `/api/v1/backup/${id}`);
    if (r.status !== 200) throw new Error(`GET /api/v1/backup/${id}: ${r.status} ${r.text}`);
    return ['success', 'error'].includes((r.body as { status: string }).status) ? r.body : undefined;
  }, timeoutMs, 50);
  const restoreDone: ApiUnderTest['restoreDone'] = (jobId, timeoutMs = 30_000) => until(`restore ${jobId}`, async () => {
    const r = await call('GET', `/api/v1/backup/restore/${jobId}/status`);
    if (r.status !== 200) throw new Error(`GET /api/v1/backup/restore/${jobId}/status: ${r.status} ${r.text}`);
    return (r.body as { status: string }).status === 'running' ? undefined : r.body;
  }, timeoutMs, 50);

  return {
    app, core, dir, keys, call, backupDone, restoreDone,
    async close() {
      await app.close();
      await core.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
}

export interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Parses a text/event-stream body (comments and ids ignored). */
export function parseSse(text: string): SseEvent[] {
  return text.split('\n\n').filter((block) => block.trim() && !block.startsWith(':')).map((block) => {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    return { event, data: data ? JSON.parse(data) : null };
  });
}
