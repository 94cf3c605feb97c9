/**
 * Crash safety: `kill -9` of a running backup at several moments leaves a repository that check
 * accepts (coffer's and restic's), whose earlier snapshots restore exactly, and into which the next
 * backup completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cofferAsync, cofferOk, manifest, pseudoRandom, requireRestic, resticOk, tempDir } from './helpers.js';

let work: string;
let src: string;
let repo: string;
let firstSnapshot: string;

function countFiles(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/^[0-9a-f]{64}$/.test(e.name)) n++;
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return n;
}

async function killWhen(label: string, ready: () => boolean, extraDelayMs = 0): Promise<void> {
  const child = cofferAsync(['-r', repo, 'backup', '--force', src]);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const started = Date.now();
  while (!ready()) {
    if (Date.now() - started > 60_000) throw new Error(`${label}: condition never reached`);
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  if (extraDelayMs) await new Promise((r) => setTimeout(r, extraDelayMs));
  child.kill('SIGKILL');
  await exited;
}

function verify(): void {
  const c = cofferOk(['-r', repo, '--json', 'check', '--read-data']);
  const summary = JSON.parse(c.stdout.trim().split('\n').at(-1)!);
  expect(summary.errors).toEqual([]);
  const target = path.join(work, `restore-${Date.now()}`);
  cofferOk(['-r', repo, 'restore', firstSnapshot, '--target', target]);
  expect(manifest(path.join(target, src))).toEqual(manifest(path.join(work, 'original')));
  fs.rmSync(target, { recursive: true, force: true });
}

beforeAll(() => {
  work = tempDir();
  src = path.join(work, 'src');
  repo = path.join(work, 'repo');
  fs.mkdirSync(src);
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `big-${i}.bin`), pseudoRandom(24 * 1024 * 1024, 100 + i));
  for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(src, `small-${i}.txt`), `small file ${i}\n`.repeat(i + 1));
  fs.cpSync(src, path.join(work, 'original'), { recursive: true, preserveTimestamps: true });
  cofferOk(['-r', repo, 'init']);
  const r = cofferOk(['-r', repo, '--json', 'backup', src]);
  firstSnapshot = JSON.parse(r.stdout.trim().split('\n').at(-1)!).snapshot_id;
  // Change every big file so later backups upload new packs that a kill can interrupt.
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `big-${i}.bin`), pseudoRandom(24 * 1024 * 1024, 200 + i));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('kill -9 during backup', () => {
  it('right after start', async () => {
    await killWhen('start', () => true, 150);
    verify();
  });

  it('after the first new pack is written', async () => {
    const before = countFiles(path.join(repo, 'data'));
    await killWhen('first pack', () => countFiles(path.join(repo, 'data')) > before);
    verify();
  });

  it('in the middle of uploading packs', async () => {
    const before = countFiles(path.join(repo, 'data'));
    await killWhen('several packs', () => countFiles(path.join(repo, 'data')) >= before + 4);
    verify();
  });

  it('after the index is written, before or while the snapshot is saved', async () => {
    const before = countFiles(path.join(repo, 'index'));
    await killWhen('index', () => countFiles(path.join(repo, 'index')) > before);
    verify();
  });

  it('leaves a repository restic accepts and the next backup completes', () => {
    if (requireRestic()) resticOk(['-r', repo, 'check', '--read-data']);
    const r = cofferOk(['-r', repo, '--json', 'backup', src]);
    const id = JSON.parse(r.stdout.trim().split('\n').at(-1)!).snapshot_id;
    const target = path.join(work, 'restore-final');
    cofferOk(['-r', repo, 'restore', id, '--target', target]);
    expect(manifest(path.join(target, src))).toEqual(manifest(src));
    // prune cleans up what the killed runs left behind, and everything still checks.
    cofferOk(['-r', repo, 'prune', '--max-unused', '0%']);
    cofferOk(['-r', repo, 'check', '--read-data']);
    if (requireRestic()) resticOk(['-r', repo, 'check', '--read-data']);
  });
});
