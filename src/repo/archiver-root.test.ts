/**
 * backup() with `root`: the tree is read below `root` but recorded at its snapshot paths, so a
 * tree unpacked in a staging directory becomes a snapshot of the paths it was taken from. restic
 * restores and checks such a snapshot like any other.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from './archiver.js';
import { restore } from './restorer.js';
import { TEST_PASSWORD, localRepo, tempDir } from './testing.js';

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const abs = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        out[`${r}/`] = (st.mode & 0o777).toString(8);
        walk(abs, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(abs)}`;
      else out[r] = fs.readFileSync(abs, 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

const resticAvailable = spawnSync('restic', ['version']).status === 0;

describe('backup with root', () => {
  it('records snapshot paths while reading below root; restores to the same tree', async () => {
    const work = tempDir();
    const staging = path.join(work, 'staging');
    const snapPath = '/srv/app/data';
    const real = path.join(staging, snapPath);
    fs.mkdirSync(path.join(real, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(real, 'a.txt'), 'alpha');
    fs.writeFileSync(path.join(real, 'sub', 'b.txt'), 'beta');
    fs.symlinkSync('sub/b.txt', path.join(real, 'link'));
    fs.writeFileSync(path.join(real, 'skip.tmp'), 'excluded');
    const repo = await localRepo(work);

    const warnings: string[] = [];
    const r = await backup(repo, { paths: [snapPath], root: staging, excludes: [`${snapPath}/*.tmp`], workers: 0, onWarning: (p, m) => warnings.push(`${p}: ${m}`) });
    expect(warnings).toEqual([]);
    expect(r.errors).toBe(0);
    expect(r.snapshot.paths).toEqual([snapPath]);
    expect(r.summary.total_files_processed).toBe(2);

    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    await restore(repo, await repo.loadSnapshot(r.snapshotId), { target: out });
    // The snapshot's tree is /srv/app/data, not the staging directory's path.
    expect(fs.readdirSync(out)).toEqual(['srv']);
    const expected = tree(real);
    delete expected['skip.tmp'];
    expect(tree(path.join(out, snapPath))).toEqual(expected);

    // Missing paths below root are what they are without root: nothing to back up.
    await expect(backup(repo, { paths: ['/not/there'], root: staging, workers: 0 })).rejects.toThrow(/do not exist/);

    if (!resticAvailable) {
      if (process.env['CI']) throw new Error('restic is required in CI but was not found');
      return;
    }
    const env = { ...process.env, RESTIC_PASSWORD: TEST_PASSWORD, RESTIC_REPOSITORY: path.join(work, 'repo'), RESTIC_CACHE_DIR: path.join(work, 'cache') };
    const check = spawnSync('restic', ['check', '--read-data'], { env });
    expect(check.status, check.stderr.toString()).toBe(0);
    const resticOut = path.join(work, 'restic-out');
    const rr = spawnSync('restic', ['restore', r.snapshotId, '--target', resticOut], { env });
    expect(rr.status, rr.stderr.toString()).toBe(0);
    expect(tree(path.join(resticOut, snapPath))).toEqual(expected);
  });
});
