/**
 * `coffer serve` survives a promise rejected with no handler (it logs it and keeps serving), while
 * an uncaught exception still ends it. The fault is planted by a preloaded module on SIGUSR2.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';
import { type ServerProcess, startServer, until } from './server-process.js';

const PRELOAD = path.join(ROOT, 'test', 'support', 'fault-on-signal.mjs');

describe('coffer serve and process-level faults', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL').catch(() => undefined);
    server = undefined;
  });

  const start = (fault: 'reject' | 'throw') => startServer(['--data-dir', path.join(tempDir('coffer-faults-'), 'data')], {
    NODE_OPTIONS: `--import=${PRELOAD}`, COFFER_TEST_FAULT: fault,
  });

  it('logs an unhandled rejection with its error and keeps serving', async () => {
    server = await start('reject');
    server.child.kill('SIGUSR2');
    const line = await until('the rejection in the log', async () => server!.output().split('\n').find((l) => l.includes('unhandled promise rejection')), 10_000, 50);
    expect(JSON.parse(line)).toMatchObject({ level: 'error', msg: expect.stringContaining('Error LOCKED'), err: { message: 'test fault: a rejection nobody handles' } });
    expect(JSON.parse(line).err.stack).toMatch(/fault-on-signal/);
    expect(server.child.exitCode).toBeNull();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('still ends on an uncaught exception', async () => {
    server = await start('throw');
    const exited = new Promise<number | null>((r) => server!.child.on('exit', (code) => r(code)));
    server.child.kill('SIGUSR2');
    expect(await exited).not.toBe(0);
    expect(server.output()).toMatch(/an exception nobody catches/);
    const line = server.output().split('\n').find((l) => l.includes('uncaught exception'));
    expect(JSON.parse(line!)).toMatchObject({ level: 'fatal', err: { message: expect.stringContaining('an exception nobody catches') } });
  });
});
