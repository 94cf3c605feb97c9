/**
 * Restored files, directories and symlinks carry the access and modification times recorded in
 * the snapshot to the nanosecond, whether Coffer or the real restic made the snapshot (restic and
 * GNU tar restore them so; Node's own utimes rounds through a double).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cofferOk, requireRestic, resticOk, tempDir } from './helpers.js';

interface Times {
  atimeNs: bigint;
  mtimeNs: bigint;
}

let work: string;
let src: string;
/**
 * Relative path → the times its snapshot records. Coffer, and restic without --with-atime, record
 * atime = mtime (src/repo/restorer.test.ts restores a distinct atime).
 */
const expected = new Map<string, Times>();

/** `touch -h` sets a symlink's own times, as lutimes; `@secs.nanos` is exact. */
function touch(p: string, mtimeNs: bigint): void {
  execFileSync('touch', ['-h', '-m', '-d', `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, '0')}`, p]);
}

function times(p: string): Times {
  const st = fs.lstatSync(p, { bigint: true });
  return { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

/** Entries are given times after all are created, children before their directories. */
function buildTree(root: string): void {
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.writeFileSync(path.join(root, 'small.txt'), 'nanoseconds matter\n');
  fs.writeFileSync(path.join(root, 'dir', 'sub', 'deep.txt'), 'deep\n');
  // Several blobs: created up front and completed by the workers.
  fs.writeFileSync(path.join(root, 'dir', 'big.bin'), Buffer.alloc(9 * 1024 * 1024, 7));
  fs.symlinkSync('small.txt', path.join(root, 'link-to-file'));
  fs.symlinkSync('/nonexistent/target', path.join(root, 'link-dangling'));
  fs.symlinkSync('dir', path.join(root, 'link-to-dir'));
  const order = ['empty', 'small.txt', 'dir/sub/deep.txt', 'dir/big.bin', 'link-to-file', 'link-dangling', 'link-to-dir', 'dir/sub', 'dir'];
  order.forEach((rel, i) => {
    // Fractions with all nine digits, which a double in seconds cannot hold at this epoch.
    const mtimeNs = 1_700_000_000_123_456_789n + BigInt(i) * 7_000_000_011n;
    touch(path.join(root, rel), mtimeNs);
    expected.set(rel, { atimeNs: mtimeNs, mtimeNs });
  });
}

/** The restored tree keeps every recorded time exactly, links' own times included. */
function expectSameTimes(restoredRoot: string): void {
  const got: Record<string, Times> = {};
  for (const rel of expected.keys()) got[rel] = times(path.join(restoredRoot, rel));
  // Links' times differ from their targets', so a link restored through (utimes, not lutimes) shows.
  expect(got).toEqual(Object.fromEntries(expected));
}

beforeAll(() => {
  work = tempDir();
  src = path.join(work, 'src');
  buildTree(src);
  // The test itself is sound: GNU touch set what we meant.
  for (const [rel, t] of expected) expect(times(path.join(src, rel)).mtimeNs).toBe(t.mtimeNs);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('restored times are exact to the nanosecond', () => {
  it('for a snapshot Coffer made: files, directories and symlinks', () => {
    const repo = path.join(work, 'repo-coffer');
    cofferOk(['-r', repo, 'init']);
    cofferOk(['-r', repo, 'backup', src]);
    const target = path.join(work, 'restore-coffer');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expectSameTimes(path.join(target, src));
  });

  it('for a snapshot the real restic made', () => {
    if (!requireRestic()) return;
    const repo = path.join(work, 'repo-restic');
    resticOk(['-r', repo, 'init']);
    resticOk(['-r', repo, 'backup', src]);
    const target = path.join(work, 'restore-restic');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expectSameTimes(path.join(target, src));
  });
});
