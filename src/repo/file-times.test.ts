import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileTimesAddon, setFdTimes, setFileTimes } from './file-times.js';
import { tempDir } from './testing.js';
import type { TimeSpec } from './time.js';

const A: TimeSpec = { sec: 1_700_000_000, nsec: 123_456_789 };
const M: TimeSpec = { sec: 1_600_000_000, nsec: 987_654_321 };
const ns = (t: TimeSpec): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);

function times(p: string): { atimeNs: bigint; mtimeNs: bigint } {
  const st = fs.lstatSync(p, { bigint: true });
  return { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

describe('setFileTimes and setFdTimes', () => {
  it('set atime and mtime to the nanosecond on a file, a directory and before 1970', () => {
    const dir = tempDir();
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    setFileTimes(file, A, M);
    expect(times(file)).toEqual({ atimeNs: ns(A), mtimeNs: ns(M) });
    const before1970: TimeSpec = { sec: -1, nsec: 1 };
    setFileTimes(dir, before1970, M);
    expect(times(dir)).toEqual({ atimeNs: -999_999_999n, mtimeNs: ns(M) });
  });

  it('set a symlink\'s own times unless asked to follow it', () => {
    const dir = tempDir();
    const file = path.join(dir, 'f');
    const link = path.join(dir, 'l');
    fs.writeFileSync(file, 'x');
    fs.symlinkSync('f', link);
    setFileTimes(file, M, M);
    setFileTimes(link, A, A);
    expect(times(link)).toEqual({ atimeNs: ns(A), mtimeNs: ns(A) });
    expect(times(file)).toEqual({ atimeNs: ns(M), mtimeNs: ns(M) });
    setFileTimes(link, A, M, { followSymlinks: true });
    expect(times(file)).toEqual({ atimeNs: ns(A), mtimeNs: ns(M) });
    // A dangling link has times of its own too.
    fs.symlinkSync('/nonexistent/target', path.join(dir, 'dangling'));
    setFileTimes(path.join(dir, 'dangling'), M, A);
    expect(times(path.join(dir, 'dangling'))).toEqual({ atimeNs: ns(M), mtimeNs: ns(A) });
  });

  it('set an open file\'s times', () => {
    const file = path.join(tempDir(), 'f');
    const fd = fs.openSync(file, 'w');
    try {
      setFdTimes(fd, A, M);
    } finally {
      fs.closeSync(fd);
    }
    expect(times(file)).toEqual({ atimeNs: ns(A), mtimeNs: ns(M) });
  });

  it('throw errors shaped as Node\'s fs errors', () => {
    const missing = path.join(tempDir(), 'missing');
    expect(() => setFileTimes(missing, A, M)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'utimensat', path: missing, message: `ENOENT: no such file or directory, utimensat '${missing}'` }));
    expect(() => setFdTimes(987_654, A, M)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'futimens' }));
  });

  it('refuse times that are not whole seconds and nanoseconds below a second', () => {
    const file = path.join(tempDir(), 'f');
    fs.writeFileSync(file, 'x');
    expect(() => setFileTimes(file, { sec: 1.5, nsec: 0 }, M)).toThrow(RangeError);
    expect(() => setFileTimes(file, A, { sec: 0, nsec: 1_000_000_000 })).toThrow(RangeError);
    expect(() => setFileTimes(file, A, { sec: 0, nsec: -1 })).toThrow(RangeError);
    expect(() => fileTimesAddon().setTimes(file, 1n, 0, 2n, 0, false)).not.toThrow();
    expect(times(file)).toEqual({ atimeNs: 1_000_000_000n, mtimeNs: 2_000_000_000n });
  });

  it('fail loudly, naming how to build it, when the addon is not built', async () => {
    // This module's own source two levels below a root with no build/.
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'src', 'repo'), { recursive: true });
    const copy = path.join(root, 'src', 'repo', 'file-times.ts');
    fs.copyFileSync(new URL('./file-times.ts', import.meta.url), copy);
    const mod = (await import(copy)) as typeof import('./file-times.js');
    expect(() => mod.setFileTimes(copy, A, M)).toThrow(/native addon .*: it is not built\. Build it with `npm run build:native`/);
  });
});
