import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as yauzl from 'yauzl';
import { type EndOptions, ZipFile } from 'yazl';
import { NotFoundInRepoError } from '../errors.js';
import { BackupFileError } from './errors.js';
import { extractBackupZip } from './extract.js';
import { type BackupManifest, MANIFEST_NAME, PLACEHOLDER_SHA256, manifestChunks, manifestLength } from './manifest.js';
import { parseManifest } from './manifest-parse.js';
import { type DirectoryEntries, type ZipOptions, kantoZipOptions, planSnapshotZip } from './plan.js';
import {
  countingSink, describeTree, listAll, requireTools, run, sha256, snapshotOf, tempDir, withTimes,
} from './testing.js';
import { snapshotZipStream, writeSnapshotZip } from './write.js';
import { zipSize } from './zip-size.js';

requireTools('unzip', 'zip');

/** A tree with what a backup file must carry: nesting, empty files and directories, modes, symlinks, odd names. */
function makeTree(root: string): void {
  const w = (rel: string, data: string | Buffer, mode?: number): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
    if (mode !== undefined) fs.chmodSync(path.join(root, rel), mode);
  };
  w('a.txt', 'hello\n');
  w('empty', '');
  w('run.sh', '#!/bin/sh\necho hi\n', 0o755);
  w('secret', 'key', 0o600);
  w('sub/deeper/b.bin', Buffer.alloc(300_000, 7));
  w('sub/deeper/c.bin', pseudoRandom(2_500_000, 3));
  w('unicode/café', 'nfc');
  w('unicode/cafe\u0301', 'nfd');
  w('unicode/日本語.txt', 'こんにちは');
  w('unicode/😀 emoji', 'smile');
  fs.mkdirSync(path.join(root, 'empty-dir'));
  fs.mkdirSync(path.join(root, 'private'), { mode: 0o700 });
  w('private/p', 'p');
  fs.chmodSync(path.join(root, 'private'), 0o700);
  fs.symlinkSync('a.txt', path.join(root, 'link-to-file'));
  fs.symlinkSync('sub/deeper', path.join(root, 'link-to-dir'));
  fs.symlinkSync('../a.txt', path.join(root, 'sub/up-link'));
  w('readonly/r', 'r', 0o444);
  fs.chmodSync(path.join(root, 'readonly'), 0o555);
  // Times in the past, with sub-second parts, so that restoring them is visible.
  const t = new Date('2021-06-07T08:09:10.123Z');
  for (const rel of ['a.txt', 'sub/deeper/b.bin', 'sub']) fs.utimesSync(path.join(root, rel), t, t);
}

function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function exportTo(file: string, repoSnap: Awaited<ReturnType<typeof snapshotOf>>, opts: ZipOptions = {}) {
  const plan = await planSnapshotZip(repoSnap.repo, repoSnap.snapshot, opts);
  await writeSnapshotZip(plan, fs.createWriteStream(file));
  return plan;
}

/** Raw entry names and unix modes, in ZIP order, as a reader sees them. */
async function zipEntries(file: string): Promise<{ name: string; mode: number }[]> {
  const zip = await yauzl.openPromise(file, { decodeStrings: false });
  const out: { name: string; mode: number }[] = [];
  for await (const e of zip.eachEntry()) out.push({ name: e.fileNameRaw.toString('utf8'), mode: e.externalFileAttributes >>> 16 });
  zip.close();
  return out;
}

describe('backup file export', () => {
  let work: string;
  let src: string;
  let snap: Awaited<ReturnType<typeof snapshotOf>>;

  beforeAll(async () => {
    work = tempDir('coffer-archive-');
    src = path.join(work, 'src');
    fs.mkdirSync(src);
    makeTree(src);
    snap = await snapshotOf(work, src);
  });

  it('round trip: unzip accepts it, restores modes, times and symlinks; import gives the same tree', async () => {
    const zip = path.join(work, 'default.zip');
    const plan = await exportTo(zip, snap, { metadata: { instance: 'device', type: 'full', backup_id: 42 } });
    expect(fs.statSync(zip).size).toBe(plan.size);

    expect(run('unzip', ['-tq', zip]).code).toBe(0);
    const listing = run('unzip', ['-l', zip]);
    expect(listing.code).toBe(0);
    const inZip = `content${src}`;
    expect(listing.out).toContain(`${inZip}/unicode/日本語.txt`);
    expect(listing.out).toContain(MANIFEST_NAME);

    const source = describeTree(src);
    const unzipped = path.join(work, 'unzipped');
    fs.mkdirSync(unzipped);
    expect(run('unzip', ['-q', zip, '-d', unzipped]).code).toBe(0);
    // unzip sets the DOS time of the local header (2-second steps; yazl writes the exact "UT"
    // field in the central directory only); modes and symlinks exactly.
    expect(withTimes(describeTree(path.join(unzipped, inZip)), 2000)).toEqual(withTimes(source, 2000));

    const imported = path.join(work, 'imported');
    fs.mkdirSync(imported);
    const manifest = await extractBackupZip(zip, imported);
    // Import keeps the recorded times to the microsecond, directories and symlinks included.
    expect(describeTree(path.join(imported, inZip))).toEqual(source);
    expect(listAll(imported).filter((p) => !p.startsWith('content'))).toEqual([]);

    expect(manifest.format).toBe('coffer-backup');
    expect(manifest.version).toBe(1);
    expect(manifest.metadata).toEqual({ instance: 'device', type: 'full', backup_id: 42 });
    expect(manifest.snapshot).toMatchObject({ id: snap.snapshot.id, paths: [src], hostname: snap.snapshot.hostname });
    expect(manifest.layout).toEqual({ content_dir: 'content', snapshot_root: '/' });
    const byPath = new Map(manifest.files.map((f) => [f.path, f]));
    expect(byPath.get(`${inZip}/a.txt`)).toMatchObject({ type: 'file', size: 6, sha256: sha256('hello\n'), mode: 0o644 });
    expect(byPath.get(`${inZip}/run.sh`)?.mode).toBe(0o755);
    expect(byPath.get(`${inZip}/link-to-dir`)).toMatchObject({ type: 'symlink', target: 'sub/deeper', size: 10 });
    expect(byPath.get(`${inZip}/empty-dir`)).toMatchObject({ type: 'dir', size: 0 });
    expect(byPath.get(`${inZip}/sub`)?.mtime).toMatch(/^2021-06-07T/);
  });

  it('round trip through `zip -r` (deflated entries, its own directory entries) still imports', async () => {
    const zip = path.join(work, 'for-rezip.zip');
    await exportTo(zip, snap);
    const unzipped = path.join(work, 'rezip-src');
    fs.mkdirSync(unzipped);
    expect(run('unzip', ['-q', zip, '-d', unzipped]).code).toBe(0);
    const rezipped = path.join(work, 'rezipped.zip');
    // -y keeps symlinks as links; -X leaves out uid/gid extra fields.
    expect(run('zip', ['-q', '-r', '-y', '-X', rezipped, '.'], unzipped).code).toBe(0);
    const entries = await zipEntries(rezipped);
    expect(entries.some((e) => e.name === 'content/')).toBe(true);
    const imported = path.join(work, 'reimported');
    fs.mkdirSync(imported);
    await extractBackupZip(rezipped, imported);
    expect(withTimes(describeTree(path.join(imported, 'content', src)), 1000)).toEqual(withTimes(describeTree(src), 1000));
  });

  it('includes only the paths asked for, with the directories on the way', async () => {
    const zip = path.join(work, 'partial.zip');
    await exportTo(zip, snap, { include: [`${src}/sub/deeper`, `${src}/a.txt`] });
    const imported = path.join(work, 'partial');
    fs.mkdirSync(imported);
    await extractBackupZip(zip, imported);
    expect(listAll(path.join(imported, 'content', src))).toEqual(['a.txt', 'sub', 'sub/deeper', 'sub/deeper/b.bin', 'sub/deeper/c.bin']);
    await expect(planSnapshotZip(snap.repo, snap.snapshot, { include: [`${src}/nope`] })).rejects.toThrow(NotFoundInRepoError);
    await expect(planSnapshotZip(snap.repo, snap.snapshot, { root: `${src}/a.txt` })).rejects.toThrow(NotFoundInRepoError);
  });

  it('writes exactly plan.size bytes in every layout', async () => {
    const layouts: ZipOptions[] = [
      {},
      { directoryEntries: 'none' },
      { directoryEntries: 'backslash' },
      { root: src },
      { root: `${src}/sub`, manifest: false, directoryEntries: 'none' },
      kantoZipOptions(src),
      { include: [`${src}/unicode`], metadata: { note: 'ünïcødé ✓', nested: { list: [1, null, true] } } },
    ];
    for (const opts of layouts) {
      const plan = await planSnapshotZip(snap.repo, snap.snapshot, opts);
      const sink = countingSink();
      await writeSnapshotZip(plan, sink);
      expect(sink.bytes, JSON.stringify(opts)).toBe(plan.size);
    }
  });

  it('Kanto layout: root stripped, `dir\\` entries before their children, no manifest', async () => {
    const zip = path.join(work, 'kanto.zip');
    await exportTo(zip, snap, kantoZipOptions(src));
    const names = (await zipEntries(zip)).map((e) => e.name);
    expect(names).not.toContain(MANIFEST_NAME);
    expect(names).toContain('sub\\');
    expect(names).toContain('sub/deeper\\');
    expect(names.every((n) => !n.startsWith('/') && !n.startsWith('content'))).toBe(true);
    expect(names.filter((n) => n.endsWith('/'))).toEqual([]);
    for (const [i, n] of names.entries()) {
      const parent = n.replace(/\\$/, '').split('/').slice(0, -1).join('/');
      if (parent) expect(names.indexOf(`${parent}\\`), n).toBeGreaterThanOrEqual(0);
      if (parent) expect(names.indexOf(`${parent}\\`), n).toBeLessThan(i);
    }
    // Kanto's unzipDir (file-backup client/archive.go), step by step: `\` → `/`; a name ending
    // in `\` is a single-level mkdir; anything else is created without creating parents.
    const target = path.join(work, 'kanto-restore');
    fs.mkdirSync(target);
    const zip2 = await yauzl.openPromise(zip, { decodeStrings: false, autoClose: false });
    for await (const e of zip2.eachEntry()) {
      const raw = e.fileNameRaw.toString('utf8');
      const p = path.join(target, raw.replaceAll('\\', '/'));
      if (raw.endsWith('\\')) {
        fs.mkdirSync(p);
        continue;
      }
      const data: Buffer[] = [];
      for await (const c of await zip2.openReadStreamPromise(e)) data.push(c as Buffer);
      fs.writeFileSync(p, Buffer.concat(data));
    }
    zip2.close();
    const restored = describeTree(target);
    for (const [rel, e] of Object.entries(describeTree(src))) {
      if (e.type === 'file') expect(restored[rel]?.sha256, rel).toBe(e.sha256);
      if (e.type === 'dir') expect(restored[rel]?.type, rel).toBe('dir');
    }
  });

  it('exact size with many files (central directory past 64 KiB), empty files and unicode names', async () => {
    const many = path.join(work, 'many');
    fs.mkdirSync(many);
    for (let i = 0; i < 1500; i++) {
      const dir = path.join(many, `d${i % 7}`, `ünï-${i % 3}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `file-${i}-名前.txt`), i % 5 === 0 ? '' : `content ${i}`);
    }
    const s = await snapshotOf(tempDir('coffer-archive-many-'), many);
    for (const directoryEntries of ['slash', 'backslash', 'none'] as DirectoryEntries[]) {
      const plan = await planSnapshotZip(s.repo, s.snapshot, { directoryEntries });
      const sink = countingSink();
      await writeSnapshotZip(plan, sink);
      expect(sink.bytes).toBe(plan.size);
    }
    const zip = path.join(work, 'many.zip');
    const plan = await exportTo(zip, s);
    expect(fs.statSync(zip).size).toBe(plan.size);
    expect(run('unzip', ['-tq', zip]).code).toBe(0);
    const imported = path.join(work, 'many-imported');
    fs.mkdirSync(imported);
    const manifest = await extractBackupZip(zip, imported);
    expect(manifest.files.filter((f) => f.type === 'file')).toHaveLength(1500);
    expect(withTimes(describeTree(path.join(imported, 'content', many)), undefined)).toEqual(withTimes(describeTree(many), undefined));
  });

  it('streams: a reader that stops early stops the export; an abort fails it', async () => {
    const plan = await planSnapshotZip(snap.repo, snap.snapshot);
    const stream = snapshotZipStream(plan);
    let got = 0;
    for await (const chunk of stream) {
      got += (chunk as Buffer).length;
      if (got > 1000) break;
    }
    expect(stream.destroyed).toBe(true);
    const ac = new AbortController();
    const sink = countingSink();
    const done = writeSnapshotZip(plan, sink, ac.signal);
    ac.abort();
    await expect(done).rejects.toThrow(/cancel/);
  });

  it('leaves out what a ZIP cannot hold (FIFOs), and says so', async () => {
    const special = path.join(work, 'special');
    fs.mkdirSync(special);
    fs.writeFileSync(path.join(special, 'f'), 'f');
    expect(run('mkfifo', [path.join(special, 'pipe')]).code).toBe(0);
    const s = await snapshotOf(tempDir('coffer-archive-fifo-'), special);
    const plan = await planSnapshotZip(s.repo, s.snapshot, { root: special });
    expect(plan.skipped).toEqual([`${special}/pipe`]);
    expect(plan.entries.map((e) => e.path)).toEqual(['f']);
    expect(plan.files).toBe(1);
  });

  it('refuses names a ZIP cannot carry faithfully, and a file that would replace manifest.json', async () => {
    const odd = path.join(work, 'odd');
    fs.mkdirSync(odd);
    fs.writeFileSync(path.join(odd, 'back\\slash'), 'x');
    const s = await snapshotOf(tempDir('coffer-archive-odd-'), odd);
    await expect(planSnapshotZip(s.repo, s.snapshot)).rejects.toMatchObject({ reason: 'unsupported-name' });
    const clash = path.join(work, 'clash');
    fs.mkdirSync(clash);
    fs.writeFileSync(path.join(clash, MANIFEST_NAME), '{}');
    const c = await snapshotOf(tempDir('coffer-archive-clash-'), clash);
    await expect(planSnapshotZip(c.repo, c.snapshot, { root: clash })).rejects.toBeInstanceOf(BackupFileError);
    // Without a manifest, or under content/, the name is fine.
    await expect(planSnapshotZip(c.repo, c.snapshot, { root: clash, manifest: false })).resolves.toBeDefined();
    await expect(planSnapshotZip(c.repo, c.snapshot)).resolves.toBeDefined();
  });
});

describe('manifest length does not depend on the digests', () => {
  it('placeholder and real digests give the same bytes count', () => {
    const head = {
      created_at: new Date(0).toISOString(),
      snapshot: { id: 'a'.repeat(64), time: '2024-01-01T00:00:00Z', hostname: 'h', paths: ['/'], tags: ['t'] },
      metadata: { model: 'X1', serial: 'ß-1' },
      layout: { content_dir: 'content', snapshot_root: '/' },
    };
    const files = [
      { path: 'content', type: 'dir' as const, size: 0, mode: 0o755, mtime: '2024-01-01T00:00:00Z' },
      { path: 'content/f', type: 'file' as const, size: 3, mode: 0o644, mtime: '2024-01-01T00:00:00.5Z' },
      { path: 'content/l', type: 'symlink' as const, size: 1, mode: 0o777, mtime: '2024-01-01T00:00:00Z', target: 'f' },
    ];
    const planned = manifestLength(head, files);
    const real = [...manifestChunks(head, files.map((f) => (f.type === 'file' ? { ...f, sha256: sha256('abc') } : f)))].join('');
    expect(Buffer.byteLength(real)).toBe(planned);
    expect([...manifestChunks(head, files)].join('')).toContain(PLACEHOLDER_SHA256);
    const parsed: BackupManifest = parseManifest(real);
    expect(parsed.files[1]?.sha256).toBe(sha256('abc'));
  });
});

describe('ZIP size arithmetic', () => {
  // @types/yazl declares end's callback without its argument.
  type EndWithTotal = (options: EndOptions, cb: (total: number) => void) => void;

  /** What yazl itself computes for the same entries (streams never read). */
  function yazlTotal(entries: { name: string; size: number; streamed: boolean }[]): number {
    const zip = new ZipFile();
    for (const e of entries) {
      if (e.streamed) zip.addReadStreamLazy(e.name, { compress: false, size: e.size }, () => undefined);
      else if (e.size === 0) zip.addEmptyDirectory(e.name);
      else zip.addBuffer(Buffer.alloc(e.size), e.name, { compress: false });
    }
    let total = -1;
    (zip.end as unknown as EndWithTotal).call(zip, { forceZip64Format: true, comment: '' }, (t) => {
      total = t;
    });
    return total;
  }

  it('matches yazl, ZIP64 included (entries over 4 GiB, offsets over 4 GiB)', () => {
    const cases = [
      [{ name: 'a', size: 0, streamed: true }],
      [{ name: 'dir/', size: 0, streamed: false }, { name: 'dir/ünï', size: 5, streamed: false }, { name: 'big', size: 5 * 2 ** 30, streamed: true }],
      [{ name: 'x', size: 2 ** 32 - 2, streamed: true }, { name: 'y', size: 2 ** 32 - 1, streamed: true }, { name: 'z', size: 10, streamed: true }, { name: 'l', size: 7, streamed: false }],
      Array.from({ length: 3000 }, (_, i) => ({ name: `file-${i}`, size: i * 3_000_000, streamed: true })),
    ];
    for (const entries of cases) {
      const mine = zipSize(entries.map((e) => ({ nameBytes: Buffer.byteLength(e.name), size: e.size, streamed: e.streamed })));
      expect(mine).toBe(yazlTotal(entries));
    }
  });

  it.runIf(process.env['COFFER_SLOW_TESTS'] === '1')('a real file over 4 GiB: exact size, unzip -t accepts it', async () => {
    // A file of one zero blob repeated: 4.1 GiB of content from one stored 8 MiB blob.
    const { putData, putTree, putSnapshot, localRepo, testNode } = await import('../testing.js');
    const work = tempDir('coffer-archive-zip64-');
    const repo = await localRepo(work);
    const blob = await putData(repo, Buffer.alloc(8 * 1024 * 1024));
    const count = 525;
    const tree = await putTree(repo, [
      testNode({ name: 'big', type: 'file', size: count * 8 * 1024 * 1024, content: Array(count).fill(blob) }),
      testNode({ name: 'small', type: 'file', size: 8 * 1024 * 1024, content: [blob] }),
    ]);
    const snapshot = await putSnapshot(repo, tree);
    await repo.loadIndex();
    const zip = path.join(work, 'big.zip');
    const plan = await planSnapshotZip(repo, snapshot, { root: '/' });
    await writeSnapshotZip(plan, fs.createWriteStream(zip));
    expect(fs.statSync(zip).size).toBe(plan.size);
    expect(run('unzip', ['-tq', zip]).code).toBe(0);
    const imported = path.join(work, 'imported');
    fs.mkdirSync(imported);
    const manifest = await extractBackupZip(zip, imported);
    expect(fs.statSync(path.join(imported, 'big')).size).toBe(count * 8 * 1024 * 1024);
    expect(manifest.files.find((f) => f.path === 'big')?.size).toBe(count * 8 * 1024 * 1024);
    fs.rmSync(work, { recursive: true, force: true });
  });
});

