/**
 * Backup → restore round trips through the built CLI on generated trees, and interoperability with
 * the real restic binary in both directions.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coffer, cofferOk, isRoot, manifest, pseudoRandom, requireRestic, restic, resticOk, tempDir } from './helpers.js';

let work: string;
let src: string;

/** A tree with the awkward cases: empty and sparse files, deep nesting, odd names, links, modes. */
function buildTree(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.writeFileSync(path.join(root, 'small.txt'), 'hello coffer\n');
  fs.writeFileSync(path.join(root, 'random-3m.bin'), pseudoRandom(3 * 1024 * 1024 + 17, 1));
  fs.writeFileSync(path.join(root, 'text-5m.txt'), Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(120_000)));
  // Sparse: 64 MiB of holes with a little data in the middle and at the end.
  const fd = fs.openSync(path.join(root, 'sparse.img'), 'w');
  fs.writeSync(fd, Buffer.from('middle'), 0, 6, 32 * 1024 * 1024);
  fs.writeSync(fd, Buffer.from('end'), 0, 3, 64 * 1024 * 1024 - 3);
  fs.closeSync(fd);
  let deep = path.join(root, 'deep');
  for (let i = 0; i < 40; i++) deep = path.join(deep, `level-${i}`);
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, 'bottom.txt'), 'deepest');
  const odd = path.join(root, 'odd names');
  fs.mkdirSync(odd);
  for (const name of ['ünïcødé.txt', '日本語', '🙂 emoji', 'new\nline', 'back\\slash', '-dash', ' leading space', 'trailing space ', '%s %d', '"quoted"', '*star?']) {
    fs.writeFileSync(path.join(odd, name), `content of ${name}`);
  }
  fs.mkdirSync(path.join(root, 'empty-dir'));
  execFileSync('mkfifo', [path.join(root, 'a-fifo')]);
  fs.symlinkSync('small.txt', path.join(root, 'link-relative'));
  fs.symlinkSync('/nonexistent/target', path.join(root, 'link-dangling'));
  fs.symlinkSync('deep', path.join(root, 'link-to-dir'));
  fs.writeFileSync(path.join(root, 'hard-a'), 'shared by two names');
  fs.linkSync(path.join(root, 'hard-a'), path.join(root, 'hard-b'));
  fs.writeFileSync(path.join(root, 'private'), 'secret');
  fs.chmodSync(path.join(root, 'private'), 0o600);
  fs.writeFileSync(path.join(root, 'script.sh'), '#!/bin/sh\necho hi\n');
  fs.chmodSync(path.join(root, 'script.sh'), 0o755);
  fs.writeFileSync(path.join(root, 'setgid-file'), 'sgid');
  fs.chmodSync(path.join(root, 'setgid-file'), 0o2755);
  fs.mkdirSync(path.join(root, 'sticky-dir'));
  fs.chmodSync(path.join(root, 'sticky-dir'), 0o1777);
  fs.mkdirSync(path.join(root, 'readonly-dir'));
  fs.writeFileSync(path.join(root, 'readonly-dir', 'inside'), 'x');
  fs.chmodSync(path.join(root, 'readonly-dir'), 0o555);
  // A duplicate of a large file: deduplicated in the repository.
  fs.copyFileSync(path.join(root, 'random-3m.bin'), path.join(root, 'random-3m-copy.bin'));
  fs.utimesSync(path.join(root, 'small.txt'), new Date('2001-02-03T04:05:06.789Z'), new Date('2001-02-03T04:05:06.789Z'));
}

/** The restored copy of `src` lives at target + the absolute source path, as with restic. */
function restoredPath(target: string): string {
  return path.join(target, src);
}

beforeAll(() => {
  work = tempDir();
  src = path.join(work, 'src');
  buildTree(src);
});

afterAll(() => {
  fs.chmodSync(path.join(src, 'readonly-dir'), 0o755);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('coffer round trip', () => {
  it('restores a generated tree exactly: content, modes, mtimes, links, odd names', () => {
    const repo = path.join(work, 'repo-rt');
    cofferOk(['-r', repo, 'init']);
    const b = cofferOk(['-r', repo, '--json', 'backup', src]);
    const summary = JSON.parse(b.stdout.trim().split('\n').at(-1)!);
    expect(summary.message_type).toBe('summary');
    expect(summary.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    const target = path.join(work, 'restore-rt');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(manifest(restoredPath(target), { times: true, owners: isRoot() })).toEqual(manifest(src, { times: true, owners: isRoot() }));
    // The sparse file keeps its size and stays sparse: its holes are not written.
    const sparse = fs.statSync(path.join(restoredPath(target), 'sparse.img'));
    expect(sparse.size).toBe(64 * 1024 * 1024);
    expect(sparse.blocks * 512).toBeLessThan(20 * 1024 * 1024);
    cofferOk(['-r', repo, 'check', '--read-data']);
  });

  it('a second backup reads nothing unchanged and adds almost nothing', () => {
    const repo = path.join(work, 'repo-incr');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src]);
    const second = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src]).stdout.trim().split('\n').at(-1)!);
    expect(second.files_new).toBe(0);
    expect(second.files_changed).toBe(0);
    expect(second.files_unmodified).toBeGreaterThan(20);
    expect(second.data_blobs).toBe(0);
    fs.writeFileSync(path.join(src, 'small.txt'), 'changed\n');
    try {
      const third = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src]).stdout.trim().split('\n').at(-1)!);
      expect(third.files_changed).toBe(1);
      expect(third.data_blobs).toBe(1);
      const target = path.join(work, 'restore-incr');
      cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
      expect(manifest(restoredPath(target))).toEqual(manifest(src));
    } finally {
      fs.writeFileSync(path.join(src, 'small.txt'), 'hello coffer\n');
      fs.utimesSync(path.join(src, 'small.txt'), new Date('2001-02-03T04:05:06.789Z'), new Date('2001-02-03T04:05:06.789Z'));
    }
  });

  it('restores only included paths', () => {
    const repo = path.join(work, 'repo-incl');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src]);
    const target = path.join(work, 'restore-incl');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target, '--include', path.join(src, 'odd names')]);
    const got = manifest(restoredPath(target));
    expect(Object.keys(got).sort()).toEqual(['odd names', ...Object.keys(manifest(path.join(src, 'odd names'))).map((k) => `odd names/${k}`)].sort());
  });

  it('excludes patterns at backup', () => {
    const repo = path.join(work, 'repo-excl');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src, '--exclude', '*.bin', '--exclude', 'deep']);
    const target = path.join(work, 'restore-excl');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    const got = manifest(restoredPath(target));
    expect(Object.keys(got).some((k) => k.endsWith('.bin') || k.startsWith('deep'))).toBe(false);
    expect(got['small.txt']).toBeDefined();
  });

  it('excludes case-insensitively and from exclude files; rejects invalid patterns', () => {
    const repo = path.join(work, 'repo-excl2');
    cofferOk(['-r', repo, 'init']);
    const list = path.join(work, 'excludes.txt');
    fs.writeFileSync(list, '# comment\n\nsparse.img\n*.sh\n');
    cofferOk(['-r', repo, 'backup', src, '--iexclude', 'SMALL.TXT', '--exclude-file', list]);
    const target = path.join(work, 'restore-excl2');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    const got = manifest(restoredPath(target));
    expect(got['small.txt']).toBeUndefined();
    expect(got['sparse.img']).toBeUndefined();
    expect(got['script.sh']).toBeUndefined();
    expect(got['empty']).toBeDefined();
    const bad = coffer(['-r', repo, 'backup', src, '--exclude', '[unterminated']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('[unterminated');
  });

  it('backs up standard input as one file', () => {
    const repo = path.join(work, 'repo-stdin');
    cofferOk(['-r', repo, 'init']);
    const data = pseudoRandom(2 * 1024 * 1024 + 5, 7);
    cofferOk(['-r', repo, 'backup', '--stdin', '--stdin-filename', 'dump.sql'], { input: data });
    const target = path.join(work, 'restore-stdin');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(fs.readFileSync(path.join(target, 'dump.sql')).equals(data)).toBe(true);
    const snaps = JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout);
    expect(snaps[0].paths).toEqual(['/dump.sql']);
  });

  it('records backup types and picks parents by them', () => {
    const repo = path.join(work, 'repo-types');
    cofferOk(['-r', repo, 'init']);
    const full = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src, '--type', 'full']).stdout.trim().split('\n').at(-1)!);
    expect(full.files_new).toBeGreaterThan(0);
    const incr = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src, '--type', 'incremental']).stdout.trim().split('\n').at(-1)!);
    expect(incr.files_unmodified).toBeGreaterThan(0);
    const full2 = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src, '--type', 'full']).stdout.trim().split('\n').at(-1)!);
    expect(full2.files_unmodified).toBe(0);
    const diff = JSON.parse(cofferOk(['-r', repo, '--json', 'backup', src, '--type', 'differential']).stdout.trim().split('\n').at(-1)!);
    expect(diff.files_unmodified).toBeGreaterThan(0);
    const snaps = JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout) as { id: string; tags: string[]; parent?: string }[];
    expect(snaps.map((s) => s.tags)).toEqual([['full'], ['incremental'], ['full'], ['differential']]);
    expect(snaps[3]!.parent).toBe(snaps[2]!.id);
    expect(snaps[2]!.parent).toBeUndefined();
  });

  it('reports wrong passwords (12), missing repositories (10) and bad usage (1)', () => {
    const repo = path.join(work, 'repo-codes');
    cofferOk(['-r', repo, 'init']);
    expect(coffer(['-r', repo, 'snapshots'], { env: { COFFER_PASSWORD: 'wrong' } }).code).toBe(12);
    expect(coffer(['-r', path.join(work, 'no-such-repo'), 'snapshots']).code).toBe(10);
    expect(coffer(['-r', repo, 'backup']).code).toBe(1);
    // All targets missing: fatal, no snapshot. Some missing: warned, exit 3.
    const none = coffer(['-r', repo, 'backup', path.join(work, 'no-such-dir')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('do not exist');
    expect(coffer(['-r', repo, 'backup', path.join(work, 'no-such-dir'), path.join(src, 'small.txt')]).code).toBe(3);
    expect(JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout)).toHaveLength(1);
    expect(coffer(['-r', repo, 'init']).code).toBe(1);
    expect(coffer(['-r', repo, 'restore', 'deadbeef', '--target', path.join(work, 'x')]).code).toBe(1);
  });

  it('manages keys: add, list, open with either, remove', () => {
    const repo = path.join(work, 'repo-keys');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'key', 'add'], { env: { COFFER_NEW_PASSWORD: 'second password' } });
    const keys = JSON.parse(cofferOk(['-r', repo, '--json', 'key', 'list']).stdout) as { id: string; current: boolean }[];
    expect(keys).toHaveLength(2);
    cofferOk(['-r', repo, 'snapshots'], { env: { COFFER_PASSWORD: 'second password' } });
    const first = keys.find((k) => k.current)!;
    // The key in use cannot be removed; another one can.
    expect(coffer(['-r', repo, 'key', 'remove', first.id]).code).toBe(1);
    cofferOk(['-r', repo, 'key', 'remove', first.id], { env: { COFFER_PASSWORD: 'second password' } });
    expect(coffer(['-r', repo, 'snapshots']).code).toBe(12);
  });
});

describe('interoperability with restic', () => {
  it('restic checks and restores what coffer wrote', () => {
    if (!requireRestic()) return;
    const repo = path.join(work, 'repo-c2r');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src]);
    resticOk(['-r', repo, 'check', '--read-data']);
    const target = path.join(work, 'restore-c2r');
    resticOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(manifest(restoredPath(target), { times: true })).toEqual(manifest(src, { times: true }));
  });

  it('coffer checks and restores what restic wrote', () => {
    if (!requireRestic()) return;
    const repo = path.join(work, 'repo-r2c');
    resticOk(['-r', repo, 'init']);
    resticOk(['-r', repo, 'backup', src]);
    cofferOk(['-r', repo, 'check', '--read-data']);
    const target = path.join(work, 'restore-r2c');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(manifest(restoredPath(target), { times: true })).toEqual(manifest(src, { times: true }));
  });

  it('restic can add snapshots to a coffer repository and prune it without harm', () => {
    if (!requireRestic()) return;
    const repo = path.join(work, 'repo-mixed');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src]);
    const extra = path.join(work, 'extra');
    fs.mkdirSync(extra, { recursive: true });
    fs.writeFileSync(path.join(extra, 'restic-only.bin'), pseudoRandom(1024 * 1024, 99));
    resticOk(['-r', repo, 'backup', extra]);
    resticOk(['-r', repo, 'forget', '--keep-last', '1', '--path', extra]);
    resticOk(['-r', repo, 'prune']);
    cofferOk(['-r', repo, 'check', '--read-data']);
    const snaps = JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout) as { id: string; paths: string[] }[];
    expect(snaps).toHaveLength(2);
    const mine = snaps.find((s) => s.paths[0] === src)!;
    const target = path.join(work, 'restore-mixed');
    cofferOk(['-r', repo, 'restore', mine.id.slice(0, 8), '--target', target]);
    expect(manifest(restoredPath(target))).toEqual(manifest(src));
    // And coffer can prune what restic wrote, after which restic still reads everything.
    cofferOk(['-r', repo, 'forget', '--keep-last', '1', '--path', extra, '--prune']);
    resticOk(['-r', repo, 'check', '--read-data']);
  });
});
