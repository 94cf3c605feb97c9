/**
 * `coffer serve` tells the operator where a bad setting came from: a start-up error about a path
 * names the flag, variable or config-file key that gave it. And the server's default repository
 * is not the CLI's COFFER_REPOSITORY.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coffer, isRoot, tempDir } from './helpers.js';
import { startServer } from './server-process.js';

describe('coffer serve start-up errors', () => {
  let dir: string;
  let blocked: string;
  beforeAll(() => {
    dir = tempDir('coffer-startup-');
    fs.writeFileSync(path.join(dir, 'a-file'), 'not a directory');
    blocked = path.join(dir, 'a-file', 'data');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const serve = (args: string[], env: Record<string, string> = {}) => coffer(['serve', '--port', '0', '--log-level', 'warn', ...args], { env });

  it('names the flag', () => {
    const r = serve(['--data-dir', blocked]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`coffer: cannot start: data directory ${blocked} (from --data-dir): not a directory`);
  });

  it('names the variable', () => {
    const r = serve([], { COFFER_DATA_DIR: blocked });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`coffer: cannot start: data directory ${blocked} (from COFFER_DATA_DIR): not a directory`);
  });

  it('names the config-file key', () => {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ data_dir: blocked }));
    const r = serve(['--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`coffer: cannot start: data directory ${blocked} (from config file ${config} key data_dir): not a directory`);
  });

  it('says permission denied for a directory it may not write', (ctx) => {
    if (isRoot()) {
      console.log('skipped: root may write anywhere, so there is no permission to be denied');
      ctx.skip();
    }
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    const r = serve([], { COFFER_DATA_DIR: path.join(locked, 'data') });
    expect(r.stderr).toContain(`data directory ${path.join(locked, 'data')} (from COFFER_DATA_DIR): permission denied`);
  });

  it('leaves the CLI\'s COFFER_REPOSITORY alone: the default repository is COFFER_DEFAULT_REPOSITORY', async () => {
    const cliRepo = path.join(dir, 'cli-repo');
    const dataDir = path.join(dir, 'data');
    const server = await startServer(['--data-dir', dataDir], { COFFER_REPOSITORY: cliRepo });
    try {
      expect(server.output()).toContain('COFFER_REPOSITORY is the repository of the coffer repository commands and the server ignores it');
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(cliRepo)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'repo', 'config'))).toBe(true);

    const serverRepo = path.join(dir, 'server-repo');
    const second = await startServer(['--data-dir', path.join(dir, 'data2')], { COFFER_REPOSITORY: cliRepo, COFFER_DEFAULT_REPOSITORY: serverRepo });
    await second.stop();
    expect(fs.existsSync(path.join(serverRepo, 'config'))).toBe(true);
    expect(fs.existsSync(cliRepo)).toBe(false);
  }, 60_000);
});
