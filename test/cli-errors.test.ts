/**
 * The CLI under bad conditions: damaged repositories, unreadable and changing files, locks, and
 * forget/prune keeping exactly what the policy says.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepoLock, Repository } from '../src/repo/index.js';
import { LocalBackend } from '../src/storage/index.js';
import { COFFER_BIN, PASSWORD, coffer, cofferOk, isRoot, manifest, pseudoRandom, tempDir } from './helpers.js';

let work: string;
let src: string;

beforeAll(() => {
  work = tempDir();
  src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a.bin'), pseudoRandom(2 * 1024 * 1024, 3));
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, `f${i}.txt`), `file ${i}\n`);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function freshRepo(name: string): string {
  const repo = path.join(work, name);
  cofferOk(['-r', repo, 'init']);
  cofferOk(['-r', repo, 'backup', src]);
  return repo;
}

function firstFile(dir: string): string {
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /^[0-9a-f]{64}$/.test(e.name)) return path.join(e.parentPath, e.name);
  }
  throw new Error(`no file in ${dir}`);
}

function flipByte(file: string, at: 'middle' | number = 'middle'): void {
  fs.chmodSync(file, 0o600);
  const data = fs.readFileSync(file);
  const i = at === 'middle' ? Math.floor(data.length / 2) : at;
  data[i]! ^= 0x40;
  fs.writeFileSync(file, data);
}

describe('corruption is reported with the file named', () => {
  for (const kind of ['data', 'index', 'snapshots'] as const) {
    it(`a flipped byte in ${kind}/`, () => {
      const repo = freshRepo(`repo-flip-${kind}`);
      const file = kind === 'data'
        // The pack holding the 2 MiB file's data is the largest one.
        ? fs.readdirSync(path.join(repo, 'data'), { withFileTypes: true, recursive: true })
            .filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name))
            .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!
        : firstFile(path.join(repo, kind));
      flipByte(file);
      const r = coffer(['-r', repo, 'check', '--read-data']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(path.basename(file));
    });
  }

  it('a missing pack', () => {
    const repo = freshRepo('repo-missing-pack');
    const file = firstFile(path.join(repo, 'data'));
    fs.rmSync(file);
    const r = coffer(['-r', repo, 'check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(path.basename(file));
  });

  it('a restore of damaged data fails instead of writing wrong bytes', () => {
    const repo = freshRepo('repo-restore-damaged');
    const big = fs.readdirSync(path.join(repo, 'data'), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
    flipByte(big, 100);
    const r = coffer(['-r', repo, 'restore', 'latest', '--target', path.join(work, 'restore-damaged')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MAC verification failed|does not match/);
  });

  it('a damaged config or key file', () => {
    const repo = freshRepo('repo-bad-config');
    flipByte(path.join(repo, 'config'));
    expect(coffer(['-r', repo, 'snapshots']).code).toBe(1);
  });
});

describe('files that cannot be read or change while read', () => {
  it('warns about unreadable files, completes the backup, exits 3', () => {
    const dir = path.join(work, 'unreadable');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'ok.txt'), 'fine');
    fs.writeFileSync(path.join(dir, 'locked.txt'), 'secret');
    fs.chmodSync(path.join(dir, 'locked.txt'), 0o000);
    fs.mkdirSync(path.join(dir, 'locked-dir'));
    fs.writeFileSync(path.join(dir, 'locked-dir', 'x'), 'x');
    fs.chmodSync(path.join(dir, 'locked-dir'), 0o000);
    const repo = path.join(work, 'repo-unreadable');
    fs.mkdirSync(repo);
    fs.chmodSync(work, 0o755);
    // root reads everything: drop to nobody for this backup.
    const asUser = isRoot() ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
    if (isRoot()) {
      fs.chownSync(repo, 65534, 65534);
      fs.chmodSync(dir, 0o755);
    }
    const run = (args: string[]) => {
      const cmd = [...asUser, process.execPath, COFFER_BIN, ...args];
      const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, COFFER_PASSWORD: PASSWORD } });
      return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    };
    expect(run(['-r', repo, 'init']).code).toBe(0);
    const r = run(['-r', repo, 'backup', dir]);
    expect(r.stderr).toContain('locked.txt');
    expect(r.code).toBe(3);
    fs.chmodSync(path.join(dir, 'locked-dir'), 0o755);
    const target = path.join(work, 'restore-unreadable');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(fs.readFileSync(path.join(target, dir, 'ok.txt'), 'utf8')).toBe('fine');
    expect(fs.existsSync(path.join(target, dir, 'locked.txt'))).toBe(false);
    cofferOk(['-r', repo, 'check', '--read-data']);
  });

  it('stores a consistent file when it grows while being read', async () => {
    const dir = path.join(work, 'growing');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'log.bin');
    fs.writeFileSync(file, pseudoRandom(64 * 1024 * 1024, 9));
    const repo = path.join(work, 'repo-growing');
    cofferOk(['-r', repo, 'init']);
    // Append continuously while the backup runs.
    let stop = false;
    const appender = (async () => {
      const fd = fs.openSync(file, 'a');
      while (!stop) {
        fs.writeSync(fd, pseudoRandom(256 * 1024, Date.now() & 0xffff));
        await new Promise((r) => setTimeout(r, 2));
      }
      fs.closeSync(fd);
    })();
    const child = spawn(process.execPath, [COFFER_BIN, '-r', repo, 'backup', dir], { env: { ...process.env, COFFER_PASSWORD: PASSWORD } });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    stop = true;
    await appender;
    expect(code).toBe(0);
    // check verifies that each file's size equals the sum of its blobs.
    cofferOk(['-r', repo, 'check', '--read-data']);
  });
});

describe('locks', () => {
  it('prune is refused while a backup holds the repository (exit 11), and works after', async () => {
    const repo = freshRepo('repo-locks');
    // The shared lock a running backup holds, taken here so the timing is not left to chance.
    const opened = await Repository.open(new LocalBackend(repo), PASSWORD);
    const shared = await RepoLock.acquire(opened, false);
    try {
      const r = coffer(['-r', repo, 'prune']);
      expect(r.code).toBe(11);
      expect(r.stderr).toContain('locked');
      // Other backups share the lock.
      cofferOk(['-r', repo, 'backup', src]);
    } finally {
      await shared.release();
    }
    cofferOk(['-r', repo, 'prune']);
    cofferOk(['-r', repo, 'check', '--read-data']);
  });
});

describe('a backup against an exclusive lock', () => {
  it('exits 11 and writes nothing, although it starts reading before the lock settles', async () => {
    const repo = freshRepo('repo-excl-lock');
    const opened = await Repository.open(new LocalBackend(repo), PASSWORD);
    const held = await RepoLock.acquire(opened, true);
    try {
      const before = fs.readdirSync(repo, { recursive: true }).filter((f) => !String(f).startsWith('locks')).sort();
      const dir = path.join(work, 'big-for-excl');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'b'), pseudoRandom(40 * 1024 * 1024, 77));
      const r = coffer(['-r', repo, 'backup', dir]);
      expect(r.code).toBe(11);
      expect(r.stderr).toContain('locked');
      const after = fs.readdirSync(repo, { recursive: true }).filter((f) => !String(f).startsWith('locks') && !String(f).startsWith('tmp')).sort();
      expect(after).toEqual(before.filter((f) => !String(f).startsWith('tmp')));
    } finally {
      await held.release();
    }
    cofferOk(['-r', repo, 'check']);
  });
});

describe('forget and prune', () => {
  it('keeps what the policy says, frees space, leaves the rest restorable', () => {
    const repo = path.join(work, 'repo-forget');
    cofferOk(['-r', repo, 'init']);
    const dir = path.join(work, 'forget-src');
    fs.mkdirSync(dir, { recursive: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(dir, 'data.bin'), pseudoRandom(1024 * 1024, 1000 + i));
      ids.push(JSON.parse(cofferOk(['-r', repo, '--json', 'backup', dir]).stdout.trim().split('\n').at(-1)!).snapshot_id);
    }
    const before = fs.readdirSync(path.join(repo, 'data'), { recursive: true }).length;
    const out = JSON.parse(cofferOk(['-r', repo, '--json', 'forget', '--keep-last', '2', '--prune']).stdout.split('\n')[0]!);
    expect(out[0].keep.map((s: { id: string }) => s.id)).toEqual([ids[4], ids[3]]);
    expect(out[0].remove.map((s: { id: string }) => s.id).sort()).toEqual(ids.slice(0, 3).sort());
    const snaps = JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout) as { id: string }[];
    expect(snaps.map((s) => s.id)).toEqual([ids[3], ids[4]]);
    expect(fs.readdirSync(path.join(repo, 'data'), { recursive: true }).length).toBeLessThan(before);
    cofferOk(['-r', repo, 'check', '--read-data']);
    const target = path.join(work, 'restore-forget');
    cofferOk(['-r', repo, 'restore', ids[3]!.slice(0, 10), '--target', target]);
    expect(fs.readFileSync(path.join(target, dir, 'data.bin')).equals(pseudoRandom(1024 * 1024, 1003))).toBe(true);
    expect(manifest(path.join(target, dir))['data.bin']!.size).toBe(1024 * 1024);
  });

  it('with no policy removes nothing', () => {
    const repo = freshRepo('repo-forget-empty');
    const r = cofferOk(['-r', repo, 'forget']);
    expect(r.stdout).toContain('no policy');
    expect(JSON.parse(cofferOk(['-r', repo, '--json', 'snapshots']).stdout)).toHaveLength(1);
  });
});
