/**
 * The README's "Try it" walkthrough works as written. Its code blocks (the ```sh blocks between
 * `<!-- walkthrough -->` and `<!-- /walkthrough -->`) run in order, in one `bash -euo pipefail`, in
 * a temporary directory that stands in for the clone: it holds a link to the clone's `bin/` (the
 * blocks run `node bin/coffer.js`) and the server's default data directory `./coffer-data`, because
 * the server is started there as `npm start` starts it, only on a free port. The one thing changed
 * from a user's terminal is `COFFER_URL`, which the walkthrough reads with its default.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireRestic, tempDir } from './helpers.js';
import { type ServerProcess, startServer } from './server-process.js';

/** The walkthrough's shell blocks, in order. */
export function walkthroughBlocks(markdown: string): string[] {
  const section = /<!-- walkthrough -->([\s\S]*?)<!-- \/walkthrough -->/.exec(markdown);
  if (!section) throw new Error('README.md has no <!-- walkthrough --> … <!-- /walkthrough --> section');
  return [...section[1]!.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function runBash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const haveRestic = requireRestic();

describe.runIf(haveRestic)('README walkthrough', () => {
  const dir = tempDir('coffer-readme-');
  let server: ServerProcess;

  beforeAll(async () => {
    fs.symlinkSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'));
    server = await startServer([], {}, { cwd: dir });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the blocks', () => {
    expect(walkthroughBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).length).toBeGreaterThanOrEqual(4);
  });

  it('runs every block to success, restores the files and lists the snapshot with restic', async () => {
    const blocks = walkthroughBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    // After each block a marker line: the output then says which block failed, if one does.
    const script = blocks.map((b, i) => `${b}\necho "--- block ${i + 1} of ${blocks.length} ok"\n`).join('');
    const { code, output } = await runBash(script, dir, {
      COFFER_URL: server.url,
      RESTIC_CACHE_DIR: path.join(dir, 'restic-cache'),
    });
    expect(code, output).toBe(0);
    for (let i = 1; i <= blocks.length; i++) expect(output).toContain(`--- block ${i} of ${blocks.length} ok`);
    expect(output).toContain('"state":"success"');
    expect(output).toContain('"state":"completed"');
    expect(output).toContain('restored: identical');
    expect(output).toMatch(/hello\.txt/);
    expect(output).toMatch(/numbers\.txt/);
    expect(fs.readFileSync(path.join(dir, 'coffer-demo', 'restored', 'hello.txt'), 'utf8')).toBe('hello from coffer\n');
    expect(output).toMatch(/instance:demo/);
    expect(output).toMatch(/^1 snapshots$/m);
  }, 180_000);
});
