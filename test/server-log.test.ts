/**
 * The server log of a real `coffer serve`: JSON lines on stdout by default, a line when a job
 * starts and one when it fails (with its ids and reason), successful requests below info, and
 * `--log-level` and `--log-format` honoured. A schedule fires every two seconds on an instance whose
 * directory is gone, so each of its backups fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { ADMIN_KEY, ADMIN_PASSWORD, type ServerProcess, client, startServer, until } from './server-process.js';

type Line = Record<string, unknown> & { level: string; msg: string };

function jsonLines(out: string): Line[] {
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line);
}

describe('the server log', () => {
  let dir: string;
  let dataDir: string;
  let server: ServerProcess | undefined;

  // One job at a time: the schedule's failing backups should not slow the next start on a busy machine.
  const start = (args: string[]) => startServer(['--data-dir', dataDir, '--jobs', '1', ...args]);
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };

  beforeAll(() => {
    dir = tempDir('coffer-log-');
    dataDir = path.join(dir, 'data');
  });
  afterAll(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('at info: a scheduled backup that fails is logged as started and failed, with its ids and reason; requests that succeed are not', async () => {
    server = await start(['--log-level', 'info', '--log-format', 'json']);
    const api = client(server.url);
    const gone = path.join(dir, 'gone');
    fs.mkdirSync(gone);
    expect((await api('PUT', '/api/v1/instances/broken', { parts: [{ name: 'files', kind: 'directory', path: gone }] })).status).toBe(201);
    fs.rmSync(gone, { recursive: true });
    const s = await api('POST', '/api/v1/backup/schedule', { instance: 'broken', cron: '*/2 * * * * *', type: 'full' });
    expect(s.status).toBe(201);
    expect((await api('GET', '/api/v1/instances')).status).toBe(200);

    const failed = await until('a failed job in the log', async () => jsonLines(server!.output()).find((l) => l['component'] === 'jobs' && l.level === 'error'), 30_000);
    expect(failed).toMatchObject({ kind: 'backup', instance: 'broken', trigger: 'schedule', state: 'error', attempt: 1 });
    expect(failed['schedule_id']).toBeTypeOf('number');
    expect(failed['backup_id']).toBeTypeOf('number');
    expect(failed['duration_ms']).toBeTypeOf('number');
    expect(failed['error']).toMatch(/\S/);
    expect(failed.msg).toBe(`backup job ${String(failed['job_id'])} failed: ${String(failed['error'])}`);

    const lines = jsonLines(server.output());
    const started = lines.find((l) => l['component'] === 'jobs' && l['job_id'] === failed['job_id'] && l.msg.endsWith('started'));
    expect(started).toMatchObject({ level: 'info', kind: 'backup', instance: 'broken', backup_id: failed['backup_id'], trigger: 'schedule' });
    expect(lines.find((l) => l['component'] === 'scheduler' && l['backup_id'] === failed['backup_id'])).toMatchObject({ level: 'info', instance: 'broken' });
    // The successful PUT, POST and GET are below info; the listening address is a notice.
    expect(lines.filter((l) => l['component'] === 'http' && typeof l['status'] === 'number')).toEqual([]);
    expect(lines.find((l) => l['notice'] === 'listening')).toMatchObject({ url: server.url });
    // The admin's credentials (given, so not generated) appear nowhere.
    expect(server.output()).not.toContain(ADMIN_PASSWORD);
    expect(server.output()).not.toContain(ADMIN_KEY);
    await stop();
  }, 90_000);

  it('at debug: a successful request has its line; a refused one is at info', async () => {
    server = await start(['--log-level', 'debug', '--log-format', 'json']);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/instances?api_key=not-a-key`)).status).toBe(401);
    const line = await until('the request line', async () => jsonLines(server!.output()).find((l) => l['url'] === '/healthz'), 10_000);
    expect(line).toMatchObject({ level: 'debug', component: 'http', method: 'GET', status: 200 });
    const refused = await until('the refused request line', async () => jsonLines(server!.output()).find((l) => l['status'] === 401), 10_000);
    expect(refused).toMatchObject({ level: 'info', url: '/api/v1/instances?api_key=[redacted]' });
    expect(server.output()).not.toContain('not-a-key');
    await stop();
  }, 60_000);

  it('--log-level warn drops the info lines and keeps the failures', async () => {
    server = await start(['--log-level', 'warn', '--log-format', 'json']);
    await until('a failed job in the log', async () => jsonLines(server!.output()).find((l) => l['component'] === 'jobs' && l.level === 'error'), 30_000);
    const lines = jsonLines(server.output());
    expect(lines.filter((l) => ['trace', 'debug', 'info'].includes(l.level) && l['notice'] === undefined)).toEqual([]);
    await stop();
  }, 60_000);

  it('--log-format pretty writes readable lines, not JSON', async () => {
    server = await start(['--log-level', 'info', '--log-format', 'pretty']);
    const failed = await until('a failed job in the log', async () => server!.output().split('\n').find((l) => / ERROR +\[jobs\] backup job \d+ failed: /.test(l)), 30_000);
    expect(failed).toMatch(/^\d{4}-\d\d-\d\dT\S+Z ERROR \[jobs\] backup job (\d+) failed: .* instance=broken .*trigger=schedule/);
    const lines = server.output().split('\n').filter((l) => l.trim() !== '');
    expect(lines.some((l) => /^\S+ INFO +\[jobs\] backup job \d+ started/.test(l))).toBe(true);
    for (const l of lines) expect(() => JSON.parse(l), l).toThrow();
    await stop();
  }, 60_000);
});
