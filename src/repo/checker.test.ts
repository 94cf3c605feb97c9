import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Handle, LocalBackend, MemoryBackend } from '../storage/index.js';
import { type CheckResult, check, parseReadDataSubset, selectPacks } from './checker.js';
import { seal } from './crypto.js';
import { CancelledError } from './errors.js';
import { type ID, hashId } from './ids.js';
import { TEST_KDF, addKey } from './keys.js';
import { type TreeNode, encodeTree } from './node.js';
import { Repository } from './repository.js';

const PW = 'checker-test-password';

function findRestic(): string | undefined {
  try {
    return execFileSync('restic', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const resticVersion = findRestic();
if (!resticVersion) {
  if (process.env.CI) {
    describe('check against restic repositories', () => {
      it('needs the restic binary', () => {
        throw new Error('restic binary not found on PATH (required when CI is set)');
      });
    });
  } else {
    console.log('checker.test.ts: skipping the restic-based tests: restic binary not found on PATH');
  }
}

/** A LocalBackend that records which packs read-data reads in full, and checks each is read once. */
class RecordingBackend extends LocalBackend {
  /** Pack id → ranges read into the worker pool's buffers (`into`): read-data streams packs so. */
  private readonly ranges = new Map<ID, { offset: number; length: number }[]>();

  override async load(h: Handle, offset = 0, length?: number, into?: Uint8Array): Promise<Buffer> {
    const data = await super.load(h, offset, length, into);
    if (h.type === 'pack' && into) {
      const list = this.ranges.get(h.name) ?? [];
      list.push({ offset, length: data.length });
      this.ranges.set(h.name, list);
    }
    return data;
  }

  /** The packs read whole, each exactly once: its ranges follow each other from 0 to its end. */
  get fullPackReads(): ID[] {
    const ids = [...this.ranges.keys()];
    for (const id of ids) {
      let end = 0;
      for (const r of this.ranges.get(id)!) {
        expect(r.offset).toBe(end);
        end += r.length;
      }
      expect(end).toBe(fs.statSync(path.join(this.location, 'data', id.slice(0, 2), id)).size);
    }
    return ids;
  }
}

function files(r: CheckResult, kind: 'errors' | 'warnings'): (string | undefined)[] {
  return r[kind].map((p) => p.file);
}

describe.skipIf(!resticVersion)('check against restic repositories', () => {
  let work: string;
  let base: string;
  /** Pack id → blob types, and the other files, of the base repository. */
  let packTypes: Map<ID, Set<string>>;
  let indexFiles: ID[];
  let snapshotFiles: ID[];
  let bigDataPack: ID;
  let treePack: ID;
  let copies = 0;

  const restic = (args: string[]): string =>
    execFileSync('restic', ['--no-cache', '-q', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, RESTIC_PASSWORD: PW },
    });

  const packPath = (repo: string, id: ID): string => path.join(repo, 'data', id.slice(0, 2), id);

  /** A fresh, writable copy of the base repository. */
  const copyRepo = (): string => {
    const dir = path.join(work, `copy-${++copies}`);
    fs.cpSync(base, dir, { recursive: true });
    const makeWritable = (p: string): void => {
      const st = fs.statSync(p);
      fs.chmodSync(p, st.isDirectory() ? 0o700 : 0o600);
      if (st.isDirectory()) for (const n of fs.readdirSync(p)) makeWritable(path.join(p, n));
    };
    makeWritable(dir);
    return dir;
  };

  const flipByte = (file: string, at?: number): void => {
    const buf = fs.readFileSync(file);
    const i = at ?? Math.floor(buf.length / 2);
    buf[i] = buf[i]! ^ 0x01;
    fs.writeFileSync(file, buf);
  };

  const openRepo = (dir: string): Promise<Repository> => Repository.open(new LocalBackend(dir), PW);

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(tmpdir(), 'coffer-check-'));
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(2 * 1024 * 1024));
    fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'lorem ipsum\n'.repeat(500));
    fs.writeFileSync(path.join(src, 'sub', 'deeper', 'empty'), '');
    base = path.join(work, 'repo');
    restic(['-r', base, 'init']);
    restic(['-r', base, 'backup', '--host', 'test', src]);
    fs.writeFileSync(path.join(src, 'sub', 'c.bin'), randomBytes(100_000));
    restic(['-r', base, 'backup', '--host', 'test', src]);
    fs.writeFileSync(path.join(src, 'd.bin'), randomBytes(50_000));
    restic(['-r', base, 'backup', '--host', 'test', src]);

    // Replace restic's key (scrypt calibrated to take ~0.5 s) with a cheap one: every test opens
    // the repository at least once. restic opens it too (the read-data test runs `restic check`).
    const repo = await openRepo(base);
    const resticKeys = fs.readdirSync(path.join(base, 'keys'));
    await addKey(repo.backend, repo.key, PW, TEST_KDF);
    for (const k of resticKeys) fs.rmSync(path.join(base, 'keys', k), { force: true });
    await repo.loadIndex();
    packTypes = new Map([...repo.index.packs].map(([id, blobs]) => [id, new Set(blobs.map((b) => b.type))]));
    indexFiles = fs.readdirSync(path.join(base, 'index'));
    snapshotFiles = fs.readdirSync(path.join(base, 'snapshots'));
    let bigSize = -1;
    for (const [id, types] of packTypes) {
      const size = fs.statSync(packPath(base, id)).size;
      if (types.has('data') && size > bigSize) {
        bigSize = size;
        bigDataPack = id;
      }
      if (types.has('tree')) treePack = id;
    }
    expect(bigSize).toBeGreaterThan(2 * 1024 * 1024);
  });

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('finds nothing wrong in a clean repository, with and without reading the data', async () => {
    const repo = await openRepo(base);
    const phases = new Set<string>();
    const r = await check(repo, { onProgress: (p) => phases.add(p.phase) });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.snapshots).toBe(3);
    expect(r.packs).toBe(packTypes.size);
    expect(r.packs).toBe(6);
    expect(r.indexFiles).toBe(3);
    expect(r.packsRead).toBe(0);
    expect(r.unusedBlobs).toBe(0);
    expect(r.blobs).toBeGreaterThan(r.trees);
    expect([...phases]).toEqual(['index', 'packs', 'snapshots', 'trees']);
    // The caller's index is left alone.
    expect(repo.index.packs.size).toBe(0);

    const rd = await check(repo, { readData: true });
    expect(rd.errors).toEqual([]);
    expect(rd.warnings).toEqual([]);
    expect(rd.packsRead).toBe(packTypes.size);
    // restic agrees, and opens the repository with the key Coffer wrote.
    expect(restic(['-r', base, 'check', '--read-data'])).toBe('');
  });

  it('reports a flipped byte in a data pack only when reading data, naming the pack', async () => {
    const dir = copyRepo();
    flipByte(packPath(dir, bigDataPack));
    const repo = await openRepo(dir);
    const quick = await check(repo);
    expect(quick.errors).toEqual([]);
    const full = await check(repo, { readData: true });
    expect(full.errors.length).toBeGreaterThan(0);
    expect(new Set(files(full, 'errors'))).toEqual(new Set([`pack/${bigDataPack}`]));
    expect(full.errors.map((e) => e.message).join('\n')).toMatch(/does not match its name/);
    expect(full.errors.map((e) => e.message).join('\n')).toMatch(/MAC verification failed/);
    // restic agrees.
    expect(() => restic(['-r', dir, 'check', '--read-data'])).toThrow();
  });

  it('reports a flipped byte in a tree pack without reading data', async () => {
    const dir = copyRepo();
    flipByte(packPath(dir, treePack), 20);
    const r = await check(await openRepo(dir));
    expect(r.errors.length).toBeGreaterThan(0);
    expect(files(r, 'errors')).toContain(`pack/${treePack}`);
  });

  it('reports a flipped byte in an index file', async () => {
    const dir = copyRepo();
    const victim = indexFiles[0]!;
    flipByte(path.join(dir, 'index', victim));
    const r = await check(await openRepo(dir));
    expect(files(r, 'errors')).toContain(`index/${victim}`);
    expect(r.errors.find((e) => e.file === `index/${victim}`)!.message).toMatch(/does not match its name/);
    // The packs it listed are now in no index.
    expect(r.warnings.some((w) => /not referenced in any index/.test(w.message))).toBe(true);
  });

  it('reports a damaged index file whose name still matches its content', async () => {
    const dir = copyRepo();
    const victim = indexFiles[0]!;
    const buf = fs.readFileSync(path.join(dir, 'index', victim));
    buf[buf.length - 1]! ^= 0x80;
    fs.rmSync(path.join(dir, 'index', victim));
    const renamed = hashId(buf);
    fs.writeFileSync(path.join(dir, 'index', renamed), buf);
    const r = await check(await openRepo(dir));
    expect(r.errors.find((e) => e.file === `index/${renamed}`)?.message).toMatch(/MAC verification failed/);
  });

  it('reports a flipped byte in a snapshot file', async () => {
    const dir = copyRepo();
    const victim = snapshotFiles[1]!;
    flipByte(path.join(dir, 'snapshots', victim));
    const r = await check(await openRepo(dir));
    expect(files(r, 'errors')).toEqual([`snapshot/${victim}`]);
    expect(r.snapshots).toBe(3);
  });

  it('reports a missing pack', async () => {
    const dir = copyRepo();
    fs.rmSync(packPath(dir, bigDataPack));
    const repo = await openRepo(dir);
    const r = await check(repo);
    expect(files(r, 'errors')).toEqual([`pack/${bigDataPack}`]);
    expect(r.errors[0]!.message).toMatch(/does not exist/);
    const rd = await check(repo, { readData: true });
    expect(files(rd, 'errors')).toEqual([`pack/${bigDataPack}`]);
    expect(rd.packsRead).toBe(packTypes.size - 1);
  });

  it('reports a truncated pack', async () => {
    const dir = copyRepo();
    const p = packPath(dir, bigDataPack);
    fs.truncateSync(p, fs.statSync(p).size - 1000);
    const repo = await openRepo(dir);
    const r = await check(repo);
    expect(files(r, 'errors')).toEqual([`pack/${bigDataPack}`]);
    expect(r.errors[0]!.message).toMatch(/unexpected file size/);
    const rd = await check(repo, { readData: true });
    expect(rd.errors.length).toBeGreaterThan(1);
    expect(new Set(files(rd, 'errors'))).toEqual(new Set([`pack/${bigDataPack}`]));
  });

  it('warns about a pack that no index references', async () => {
    const dir = copyRepo();
    const junk = randomBytes(5000);
    const id = hashId(junk);
    fs.mkdirSync(path.dirname(packPath(dir, id)), { recursive: true });
    fs.writeFileSync(packPath(dir, id), junk);
    const r = await check(await openRepo(dir), { readData: true });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([{ kind: 'warning', file: `pack/${id}`, message: 'not referenced in any index' }]);
    expect(r.packsRead).toBe(packTypes.size);
  });

  it('reads every pack exactly once across read-data-subset 1/2 and 2/2', async () => {
    const reads: ID[][] = [];
    for (const n of [1, 2]) {
      const backend = new RecordingBackend(base);
      const r = await check(await Repository.open(backend, PW), { readDataSubset: `${n}/2` });
      expect(r.errors).toEqual([]);
      expect(r.packsRead).toBe(backend.fullPackReads.length);
      for (const id of backend.fullPackReads) expect(parseInt(id.slice(0, 2), 16) % 2).toBe(n - 1);
      reads.push(backend.fullPackReads);
    }
    const all = [...reads[0]!, ...reads[1]!].sort();
    expect(all).toEqual([...packTypes.keys()].sort());

    const backend = new RecordingBackend(base);
    const half = await check(await Repository.open(backend, PW), { readDataSubset: '50%' });
    expect(half.packsRead).toBe(3);
    expect(new Set(backend.fullPackReads).size).toBe(3);
    const tiny = await check(await Repository.open(backend, PW), { readDataSubset: '1K' });
    expect(tiny.packsRead).toBe(1);
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(check(await openRepo(base), { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('check on a repository written by Coffer', () => {
  const node = (name: string, type: TreeNode['type'], extra: Partial<TreeNode> = {}): TreeNode => ({
    name, type, mode: type === 'dir' ? 2 ** 31 + 0o755 : 0o644,
    mtime: '2024-01-01T00:00:00Z', atime: '2024-01-01T00:00:00Z', ctime: '2024-01-01T00:00:00Z',
    uid: 0, gid: 0, content: null, ...extra,
  });

  /** Saves a file's blobs and returns its node. */
  const saveFile = async (repo: Repository, name: string, chunks: Buffer[]): Promise<TreeNode> => {
    const ids: ID[] = [];
    for (const c of chunks) {
      ids.push(hashId(c));
      await repo.blobSaver().save('data', c);
    }
    return node(name, 'file', { content: ids, size: chunks.reduce((s, c) => s + c.length, 0) });
  };

  const saveTree = async (repo: Repository, nodes: TreeNode[]): Promise<ID> => {
    const buf = encodeTree(nodes);
    await repo.blobSaver().save('tree', buf);
    return hashId(buf);
  };

  const snapshot = (repo: Repository, tree: ID): Promise<ID> =>
    repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree, paths: ['/src'], hostname: 'test' });

  it('accepts what Coffer writes and finds logical errors in trees', async () => {
    const repo = await Repository.init(new MemoryBackend(), PW, { kdf: TEST_KDF });
    const good = await saveFile(repo, 'good', [randomBytes(1000), Buffer.alloc(5000, 7)]);
    const sub = await saveTree(repo, [good]);
    const root = await saveTree(repo, [node('sub', 'dir', { subtree: sub }), await saveFile(repo, 'x', [Buffer.from('x')])]);
    await snapshot(repo, root);
    await repo.blobSaver().save('data', Buffer.from('unused'));
    await repo.flush();

    const clean = await check(repo, { readData: true });
    expect(clean.errors).toEqual([]);
    expect(clean.warnings).toEqual([]);
    expect(clean.unusedBlobs).toBe(1);
    expect(clean.trees).toBe(2);

    // A second snapshot with broken trees.
    const missing = hashId(Buffer.from('never stored'));
    const badSub = await saveTree(repo, [
      { ...good, name: 'wrong-size', size: (good.size ?? 0) + 1 },
      { ...good, name: 'missing-blob', content: [missing] },
      node('no-content', 'file'),
    ]);
    const absentTree = hashId(Buffer.from('no such tree'));
    const badRoot = await saveTree(repo, [
      node('bad', 'dir', { subtree: badSub }),
      node('gone', 'dir', { subtree: absentTree }),
      node('nosub', 'dir'),
      { ...node('weird', 'file'), type: 'bogus' as TreeNode['type'] },
    ]);
    const badSnap = await snapshot(repo, badRoot);
    await repo.flush();

    const r = await check(repo);
    expect(new Set(files(r, 'errors'))).toEqual(new Set([`snapshot/${badSnap}`]));
    const text = r.errors.map((e) => e.message).join('\n');
    expect(text).toMatch(/\/bad in snapshot .*"wrong-size": metadata size \(\d+\) and sum of blob sizes \(\d+\) do not match/);
    expect(text).toContain(`"missing-blob" blob 0 (${missing}) not found in index`);
    expect(text).toContain('file "no-content" has a nil blob list');
    expect(text).toContain(`tree ${absentTree} (/gone in snapshot`);
    expect(text).toContain('dir node "nosub" has no subtree');
    expect(text).toContain('node "weird" with invalid type "bogus"');
    expect(r.errors).toHaveLength(6);
  });
});

describe('check on object storage', () => {
  /** A memory backend that says it is remote (as S3 and Azure do) and counts its reads of packs. */
  class RemoteCountingBackend extends MemoryBackend {
    packLoads = 0;
    override capabilities() {
      return { ...super.capabilities(), remote: true };
    }
    override async load(h: Handle, offset?: number, length?: number, into?: Uint8Array): Promise<Buffer> {
      if (h.type === 'pack') this.packLoads++;
      return super.load(h, offset, length, into);
    }
  }

  it('walks the trees from whole tree packs, one request each, not one request per directory', async () => {
    const backend = new RemoteCountingBackend();
    const repo = await Repository.init(backend, PW, { kdf: TEST_KDF });
    const dir = (name: string, subtree: ID): TreeNode => ({
      name, type: 'dir', mode: 2 ** 31 + 0o755, mtime: '2024-01-01T00:00:00Z', atime: '2024-01-01T00:00:00Z',
      ctime: '2024-01-01T00:00:00Z', uid: 0, gid: 0, content: null, subtree,
    });
    // 40 directories, each its own tree blob, all in one tree pack.
    let tree: ID | undefined;
    for (let depth = 0; depth < 40; depth++) {
      const buf = encodeTree(tree ? [dir(`d${depth}`, tree)] : []);
      await repo.blobSaver().save('tree', buf);
      tree = hashId(buf);
    }
    await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: tree!, paths: ['/src'], hostname: 'test' });
    await repo.flush();
    const treePacks = new Set(repo.index.lookupAll('tree', tree!).map((l) => l.packId));
    expect(treePacks.size).toBe(1);

    const reopened = await Repository.open(backend, PW);
    await reopened.loadIndex();
    backend.packLoads = 0;
    const r = await check(reopened);
    expect(r.errors).toEqual([]);
    expect(r.trees).toBe(40);
    expect(backend.packLoads).toBe(1);
  });
});

describe('check on index files in other shapes', () => {
  it('accepts the old index format with a warning and reports invalid entries', async () => {
    const backend = new MemoryBackend();
    const repo = await Repository.init(backend, PW, { kdf: TEST_KDF });
    const data = randomBytes(100);
    await repo.blobSaver().save('data', data);
    const tree = encodeTree([{
      name: 'f', type: 'file', mtime: '2024-01-01T00:00:00Z', atime: '2024-01-01T00:00:00Z',
      ctime: '2024-01-01T00:00:00Z', uid: 0, gid: 0, content: [hashId(data)], size: data.length,
    }]);
    await repo.blobSaver().save('tree', tree);
    await repo.flush();
    await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: hashId(tree), paths: ['/src'] });
    const names: ID[] = [];
    for await (const f of backend.list('index')) names.push(f.name);
    expect(names).toHaveLength(1);
    const json = (await repo.loadUnpacked('index', names[0]!)) as { packs: unknown[] };
    await backend.remove({ type: 'index', name: names[0]! });
    // restic < 0.8 wrote a bare list of packs.
    const oldId = await repo.saveUnpacked('index', json.packs);
    const badId = await repo.saveUnpacked('index', {
      packs: [{ id: hashId(Buffer.from('p')), blobs: [{ id: 'not-an-id', type: 'data', offset: 0, length: 40 }] }],
    });

    const r = await check(repo, { readData: true });
    expect(r.warnings).toEqual([expect.objectContaining({ file: `index/${oldId}`, message: expect.stringMatching(/old format/) })]);
    expect(r.errors).toEqual([expect.objectContaining({ file: `index/${badId}`, message: expect.stringMatching(/invalid blob entry/) })]);
    expect(r.packsRead).toBe(2);
    expect(r.trees).toBe(1);
  });
});

describe('check with duplicate tree blobs', () => {
  it('reports a damaged copy but walks the tree through the good one', async () => {
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'coffer-check-dup-'));
    try {
      const repo = await Repository.init(new LocalBackend(dir), PW, { kdf: TEST_KDF });
      const data = randomBytes(3000);
      await repo.blobSaver().save('data', data);
      const tree = encodeTree([{
        name: 'f', type: 'file', mode: 0o644, mtime: '2024-01-01T00:00:00Z', atime: '2024-01-01T00:00:00Z',
        ctime: '2024-01-01T00:00:00Z', uid: 0, gid: 0, content: [hashId(data)], size: data.length,
      }]);
      const treeId = hashId(tree);
      await repo.blobSaver().save('tree', tree);
      await repo.flush();
      // A second copy of the tree in another pack, listed by a second index file.
      await repo.blobSaver().addSealedForce('tree', treeId, seal(repo.key, tree), 0);
      await repo.flush();
      await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: treeId, paths: ['/src'] });

      const clean = await check(repo, { readData: true });
      expect(clean.errors).toEqual([]);
      expect(clean.packs).toBe(3);

      // Damage the copy the checker tries first: the one in the index file whose name sorts first.
      const firstIndex = fs.readdirSync(path.join(dir, 'index')).sort()[0]!;
      const listed = (await repo.loadUnpacked('index', firstIndex)) as { packs: { id: ID; blobs: { type: string }[] }[] };
      const victim = listed.packs.find((p) => p.blobs.some((b) => b.type === 'tree'))!.id;
      const file = path.join(dir, 'data', victim.slice(0, 2), victim);
      fs.chmodSync(file, 0o600);
      const buf = fs.readFileSync(file);
      buf[20]! ^= 1;
      fs.writeFileSync(file, buf);

      const r = await check(repo);
      expect(files(r, 'errors')).toEqual([`pack/${victim}`]);
      expect(r.trees).toBe(1);
      expect(r.unusedBlobs).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseReadDataSubset / selectPacks', () => {
  it('parses the forms restic accepts', () => {
    expect(parseReadDataSubset('1/5')).toEqual({ kind: 'bucket', n: 1, t: 5 });
    expect(parseReadDataSubset('256/256')).toEqual({ kind: 'bucket', n: 256, t: 256 });
    expect(parseReadDataSubset('2.5%')).toEqual({ kind: 'percent', percent: 2.5 });
    expect(parseReadDataSubset('100%')).toEqual({ kind: 'percent', percent: 100 });
    expect(parseReadDataSubset('50M')).toEqual({ kind: 'size', bytes: 50 * 1024 ** 2 });
    expect(parseReadDataSubset('1g')).toEqual({ kind: 'size', bytes: 1024 ** 3 });
    expect(parseReadDataSubset('4096')).toEqual({ kind: 'size', bytes: 4096 });
    for (const bad of ['0/5', '6/5', '1/0', '1/257', '0%', '101%', '-1%', '0', '5X', '', 'a/b', '1/2/3']) {
      expect(() => parseReadDataSubset(bad), bad).toThrow();
    }
  });

  it('selects by the first byte of the pack id, or at random', () => {
    const packs = new Map<ID, number>();
    for (let i = 0; i < 256; i++) packs.set(i.toString(16).padStart(2, '0') + '0'.repeat(62), 100);
    const seen = new Set<ID>();
    for (let n = 1; n <= 3; n++) {
      const sel = selectPacks(packs, { kind: 'bucket', n, t: 3 });
      for (const id of sel) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
    expect(seen.size).toBe(256);
    expect(selectPacks(packs, { kind: 'percent', percent: 10 })).toHaveLength(25);
    expect(new Set(selectPacks(packs, { kind: 'percent', percent: 100 })).size).toBe(256);
    expect(selectPacks(packs, { kind: 'size', bytes: 1000 })).toHaveLength(10);
    expect(selectPacks(packs, { kind: 'size', bytes: 1 })).toHaveLength(1);
    expect(selectPacks(new Map(), { kind: 'percent', percent: 50 })).toEqual([]);
  });
});
