/**
 * The HTTP adapter's request lines, through a logger handed in as `coffer serve` hands its own:
 * one line per request at a level by its status, an expected 503 a warning and not an error.
 */
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/index.js';
import { Core } from '../src/core/index.js';
import { tempDir } from './helpers.js';

type Line = Record<string, unknown> & { level: number; msg: string };

describe('request log lines', () => {
  const lines: Line[] = [];
  let core: Core;
  let app: FastifyInstance;

  beforeAll(async () => {
    const dir = tempDir('coffer-reqlog-');
    core = await Core.start({ dataDir: path.join(dir, 'data'), role: 'api', adminPassword: 'admin-password' });
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Line) });
    app = await buildApp(core, { loggerInstance: logger });
  });
  afterAll(async () => {
    await app.close();
  });

  const linesOf = (url: string) => lines.filter((l) => l['url'] === url);

  it('a success is at debug, once, with method, status and time', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const [line, ...more] = linesOf('/healthz');
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: pino.levels.values['debug'], component: 'http', method: 'GET', status: 200 });
    expect(line!['responseTime']).toBeTypeOf('number');
  });

  it('a client error is at info', async () => {
    expect((await app.inject({ method: 'GET', url: '/no/such/route' })).statusCode).toBe(404);
    expect(linesOf('/no/such/route')).toMatchObject([{ level: pino.levels.values['info'], status: 404 }]);
  });

  it('503 (the catalog does not answer) is a warning, and nothing is logged as an error', async () => {
    await core.stop();
    const before = lines.length;
    expect((await app.inject({ method: 'GET', url: '/healthz?again' })).statusCode).toBe(503);
    const written = lines.slice(before);
    expect(written.filter((l) => l.level >= pino.levels.values['error']!)).toEqual([]);
    expect(written.find((l) => l['status'] === 503)).toMatchObject({ level: pino.levels.values['warn'] });
  });
});
