import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { restore } from './restorer.js';
import { parseTimeNs } from './time.js';
import { localRepo, putData, putRawTree, putSnapshot, putTree, tempDir, testNode } from './testing.js';

/** Every path under `dir` (relative), to prove nothing appeared where it must not. */
function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d)) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = fs.lstatSync(path.join(d, n));
      if (st.isDirectory()) walk(path.join(d, n), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('restore of hostile snapshots', () => {
  const hostileNames = ['..', '.', '', '../escape', 'a/b', '/etc/passwd', 'nul\0byte'];

  for (const name of hostileNames) {
    it(`refuses a node named ${JSON.stringify(name)} and writes nothing outside the target`, async () => {
      const work = tempDir();
      const repo = await localRepo(work);
      const data = await putData(repo, Buffer.from('pwned'));
      const tree = await putTree(repo, [testNode({ name, type: 'file', size: 5, content: [data] })]);
      const snap = await putSnapshot(repo, tree);
      await repo.loadIndex();
      const target = path.join(work, 'sandbox', 'target');
      fs.mkdirSync(target, { recursive: true });
      await expect(restore(repo, snap, { target })).rejects.toThrow(/unsafe entry name|outside the target/);
      expect(listAll(path.join(work, 'sandbox'))).toEqual(['target']);
    });
  }

  it('never writes through a symlink from the snapshot, even one named like a later directory', async () => {
    const work = tempDir();
    const repo = await localRepo(work);
    const outside = path.join(work, 'outside');
    fs.mkdirSync(outside);
    const data = await putData(repo, Buffer.from('pwned'));
    const inner = await putTree(repo, [testNode({ name: 'file', type: 'file', size: 5, content: [data] })]);
    // Raw JSON: two entries with the same name, a symlink to outside and a directory.
    const link = JSON.stringify(testNode({ name: 'evil', type: 'symlink', linktarget: outside }));
    const dir = JSON.stringify(testNode({ name: 'evil', type: 'dir', subtree: inner }));
    const tree = await putRawTree(repo, `{"nodes":[${link},${dir}]}\n`);
    const snap = await putSnapshot(repo, tree);
    await repo.loadIndex();
    const target = path.join(work, 'target');
    await expect(restore(repo, snap, { target })).rejects.toThrow(/duplicate entry name/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('does not follow a symlink planted in the target before the restore', async () => {
    const work = tempDir();
    const repo = await localRepo(work);
    const outside = path.join(work, 'outside');
    fs.mkdirSync(outside);
    const data = await putData(repo, Buffer.from('pwned'));
    const inner = await putTree(repo, [testNode({ name: 'file', type: 'file', size: 5, content: [data] })]);
    const tree = await putTree(repo, [testNode({ name: 'dir', type: 'dir', subtree: inner }), testNode({ name: 'top', type: 'file', size: 5, content: [data] })]);
    const snap = await putSnapshot(repo, tree);
    await repo.loadIndex();
    const target = path.join(work, 'target');
    fs.mkdirSync(target);
    fs.symlinkSync(outside, path.join(target, 'dir'));
    fs.symlinkSync(path.join(outside, 'top'), path.join(target, 'top'));
    await expect(restore(repo, snap, { target })).rejects.toThrow(/not a directory/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('creates absolute symlinks as links only, never as paths to write into', async () => {
    const work = tempDir();
    const repo = await localRepo(work);
    const tree = await putTree(repo, [testNode({ name: 'abs', type: 'symlink', linktarget: '/etc' })]);
    const snap = await putSnapshot(repo, tree);
    await repo.loadIndex();
    const target = path.join(work, 'target');
    const r = await restore(repo, snap, { target });
    expect(r.errors).toBe(0);
    expect(fs.readlinkSync(path.join(target, 'abs'))).toBe('/etc');
  });

  it('rejects a file whose content blob is not in the index', async () => {
    const work = tempDir();
    const repo = await localRepo(work);
    const tree = await putTree(repo, [testNode({ name: 'f', type: 'file', size: 3, content: ['ab'.repeat(32)] })]);
    const snap = await putSnapshot(repo, tree);
    await repo.loadIndex();
    await expect(restore(repo, snap, { target: path.join(work, 't') })).rejects.toThrow(/not in the index/);
  });
});

describe('restore of large blobs', () => {
  // A blob larger than a read run (4 MiB) is read alone into a buffer of its own; next to small
  // blobs in several files, with workers and inline.
  for (const workers of [0, 2]) {
    it(`restores a file whose blob exceeds a run, beside small ones (workers: ${workers})`, async () => {
      const work = tempDir();
      const repo = await localRepo(work);
      // Random, so that it is stored uncompressed: 6 MiB in the pack.
      const big = randomBytes(6 * 1024 * 1024 + 123);
      const small = [Buffer.from('one'), Buffer.from('two'.repeat(1000))];
      const ids = [await putData(repo, small[0]!), await putData(repo, big), await putData(repo, small[1]!)];
      const tree = await putTree(repo, [
        testNode({ name: 'a', type: 'file', size: small[0]!.length + big.length, content: [ids[0]!, ids[1]!] }),
        testNode({ name: 'b', type: 'file', size: small[1]!.length, content: [ids[2]!] }),
        testNode({ name: 'c', type: 'file', size: big.length, content: [ids[1]!] }),
      ]);
      const snap = await putSnapshot(repo, tree);
      await repo.loadIndex();
      const target = path.join(work, 't');
      await restore(repo, snap, { target, workers });
      expect(fs.readFileSync(path.join(target, 'a')).equals(Buffer.concat([small[0]!, big]))).toBe(true);
      expect(fs.readFileSync(path.join(target, 'b')).equals(small[1]!)).toBe(true);
      expect(fs.readFileSync(path.join(target, 'c')).equals(big)).toBe(true);
    });
  }
});

describe('restore of times', () => {
  it('sets atime and mtime as recorded, to the nanosecond, on files, directories and symlinks', async () => {
    const work = tempDir();
    const repo = await localRepo(work);
    const data = await putData(repo, Buffer.from('timed'));
    // Distinct atime and mtime in several zones and fraction lengths (restic drops trailing zeros).
    const recorded = {
      file: { atime: '2023-11-14T22:13:20.123456789Z', mtime: '2020-09-13T14:26:40.987654321+02:00' },
      empty: { atime: '1969-07-20T20:17:40.5Z', mtime: '2038-01-19T03:14:08.000000001Z' },
      link: { atime: '2024-02-29T23:59:59.999999999-05:30', mtime: '2001-02-03T04:05:06.7Z' },
      dir: { atime: '2022-06-01T00:00:00.000000007Z', mtime: '2021-12-31T23:59:59.123456789Z' },
      inner: { atime: '2019-01-01T00:00:00Z', mtime: '2018-05-05T05:05:05.555555555Z' },
    };
    const inner = await putTree(repo, [testNode({ name: 'inner', type: 'file', size: 5, content: [data], ...recorded.inner })]);
    const tree = await putTree(repo, [
      testNode({ name: 'dir', type: 'dir', subtree: inner, ...recorded.dir }),
      testNode({ name: 'empty', type: 'file', size: 0, ...recorded.empty }),
      testNode({ name: 'file', type: 'file', size: 5, content: [data], ...recorded.file }),
      testNode({ name: 'link', type: 'symlink', linktarget: 'file', ...recorded.link }),
    ]);
    const snap = await putSnapshot(repo, tree);
    await repo.loadIndex();
    const target = path.join(work, 't');
    await restore(repo, snap, { target, workers: 0 });
    const paths = { file: 'file', empty: 'empty', link: 'link', dir: 'dir', inner: 'dir/inner' };
    for (const [key, rel] of Object.entries(paths)) {
      const st = fs.lstatSync(path.join(target, rel), { bigint: true });
      const want = recorded[key as keyof typeof recorded];
      expect({ rel, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs }).toEqual({ rel, atimeNs: parseTimeNs(want.atime), mtimeNs: parseTimeNs(want.mtime) });
    }
  });
});
