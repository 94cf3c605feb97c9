import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, RepoError } from '../errors.js';
import { parseTimeNs } from '../time.js';
import { type BackupFileReason, BackupFileError } from './errors.js';
import { type ExtractOptions, extractBackupZip } from './extract.js';
import { MANIFEST_NAME, type ManifestFile } from './manifest.js';
import { planSnapshotZip } from './plan.js';
import {
  type TestZipEntry, buildZip, centralRecord, listAll, manifestText, mdata, mfile, sha256, snapshotOf, tempDir, zeros,
} from './testing.js';
import { writeSnapshotZip } from './write.js';

/**
 * Runs an import that must fail: the typed error with `reason`, the target empty afterwards, and
 * nothing new anywhere in the sandbox around it.
 */
async function expectRefused(zip: string, reason: BackupFileReason, opts: ExtractOptions = {}): Promise<BackupFileError> {
  const sandbox = path.dirname(zip);
  const target = path.join(sandbox, 'target');
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target);
  const before = listAll(sandbox);
  let caught: unknown;
  try {
    await extractBackupZip(zip, target, opts);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BackupFileError);
  const err = caught as BackupFileError;
  expect(err.reason, err.message).toBe(reason);
  expect(err).toBeInstanceOf(RepoError);
  expect(err.code).toBe('BACKUP_FILE');
  expect(fs.readdirSync(target)).toEqual([]);
  expect(listAll(sandbox)).toEqual(before);
  expect(fs.existsSync('/etc/x-coffer-test')).toBe(false);
  return err;
}

/** A sandbox directory holding only the ZIP about to be built. */
function sandboxZip(): string {
  return path.join(tempDir('coffer-import-'), 'upload.zip');
}

/** A ZIP of content entries plus a manifest listing `files`. */
async function zipWithManifest(entries: TestZipEntry[], files: ManifestFile[]): Promise<string> {
  const zip = sandboxZip();
  await buildZip(zip, [...entries, { name: MANIFEST_NAME, data: manifestText(files) }]);
  return zip;
}

describe('backup file import accepts', () => {
  it('a hand-made ZIP with a valid manifest, deflated entries and implicit directories', async () => {
    const zip = await zipWithManifest(
      [{ name: 'a/b.txt', data: 'bee'.repeat(1000), compress: true }, { name: 'a/link', kind: 'symlink', data: 'b.txt' }, { name: 'top', data: '' }],
      [mfile('a', 'dir', { mode: 0o750 }), mdata('a/b.txt', 'bee'.repeat(1000)), mfile('a/link', 'symlink', { size: 5, target: 'b.txt' }), mdata('top', ''), mfile('e', 'dir')],
    );
    const target = path.join(path.dirname(zip), 'target');
    fs.mkdirSync(target);
    const m = await extractBackupZip(zip, target);
    expect(m.files).toHaveLength(5);
    expect(listAll(target)).toEqual(['a', 'a/b.txt', 'a/link', 'e', 'top']);
    expect(fs.readFileSync(path.join(target, 'a/b.txt'), 'utf8')).toBe('bee'.repeat(1000));
    expect(fs.readlinkSync(path.join(target, 'a/link'))).toBe('b.txt');
    expect(fs.statSync(path.join(target, 'a')).mode & 0o7777).toBe(0o750);
    expect(fs.statSync(path.join(target, 'top')).mtime.toISOString()).toBe('2024-01-02T03:04:05.000Z');
  });

  it('the manifest\'s mtimes to the nanosecond, on files, directories and symlinks', async () => {
    const mtimes = { dir: '2023-11-14T22:13:20.123456789Z', file: '2020-09-13T14:26:40.987654321+02:00', link: '2001-02-03T04:05:06.000000007Z' };
    const zip = await zipWithManifest(
      [{ name: 'dir/file', data: 'x' }, { name: 'dir/link', kind: 'symlink', data: 'file' }],
      [mfile('dir', 'dir', { mtime: mtimes.dir }), { ...mdata('dir/file', 'x'), mtime: mtimes.file }, mfile('dir/link', 'symlink', { size: 4, target: 'file', mtime: mtimes.link })],
    );
    const target = path.join(path.dirname(zip), 'target');
    fs.mkdirSync(target);
    await extractBackupZip(zip, target);
    for (const [rel, mtime] of [['dir', mtimes.dir], ['dir/file', mtimes.file], ['dir/link', mtimes.link]] as const) {
      const st = fs.lstatSync(path.join(target, rel), { bigint: true });
      expect({ rel, mtimeNs: st.mtimeNs, atimeNs: st.atimeNs }).toEqual({ rel, mtimeNs: parseTimeNs(mtime), atimeNs: parseTimeNs(mtime) });
    }
  });

  it('drops setuid and setgid bits, as unzip does', async () => {
    const zip = await zipWithManifest([{ name: 'suid', data: 'x' }], [{ ...mdata('suid', 'x'), mode: 0o4755 }]);
    const target = path.join(path.dirname(zip), 'target');
    fs.mkdirSync(target);
    await extractBackupZip(zip, target);
    expect(fs.statSync(path.join(target, 'suid')).mode & 0o7777).toBe(0o755);
  });
});

describe('backup file import refuses', () => {
  const slips = ['../x', '/etc/x-coffer-test', 'a/../../x', '..\\x', 'a\\..\\..\\x', 'C:/x', 'a//b', './x', 'nul\0byte'];
  for (const name of slips) {
    it(`zip slip: an entry named ${JSON.stringify(name)}`, async () => {
      const zip = sandboxZip();
      await buildZip(zip, [{ name, data: 'pwned' }, { name: MANIFEST_NAME, data: manifestText([]) }]);
      await expectRefused(zip, 'unsafe-path');
    });
  }

  it('zip slip hidden in the manifest only', async () => {
    const zip = await zipWithManifest([], [mdata('../x', 'pwned')]);
    await expectRefused(zip, 'unsafe-path');
  });

  it('symlink escape: link -> /etc, then link/passwd', async () => {
    const zip = await zipWithManifest(
      [{ name: 'link', kind: 'symlink', data: '/etc' }, { name: 'link/passwd', data: 'root::0:0::/:/bin/sh\n' }],
      [mfile('link', 'symlink', { size: 4, target: '/etc' }), mdata('link/passwd', 'root::0:0::/:/bin/sh\n')],
    );
    await expectRefused(zip, 'symlink-escape');
  });

  it('an entry below a symlink, even one pointing inside', async () => {
    const zip = await zipWithManifest(
      [{ name: 'sub/f', data: 'f' }, { name: 'link', kind: 'symlink', data: 'sub' }, { name: 'link/g', data: 'g' }],
      [mfile('sub', 'dir'), mdata('sub/f', 'f'), mfile('link', 'symlink', { size: 3, target: 'sub' }), mdata('link/g', 'g')],
    );
    await expectRefused(zip, 'symlink-escape');
  });

  it('symlink escape unless asked to allow it; entries below a symlink never', async () => {
    const zip = await zipWithManifest(
      [{ name: 'localtime', kind: 'symlink', data: '/usr/share/zoneinfo/UTC' }, { name: 'up', kind: 'symlink', data: '../x' }],
      [mfile('localtime', 'symlink', { size: 23, target: '/usr/share/zoneinfo/UTC' }), mfile('up', 'symlink', { size: 4, target: '../x' })],
    );
    await expectRefused(zip, 'symlink-escape');
    const target = path.join(path.dirname(zip), 'allowed');
    fs.mkdirSync(target);
    await extractBackupZip(zip, target, { allowExternalSymlinks: true });
    expect(fs.readlinkSync(path.join(target, 'localtime'))).toBe('/usr/share/zoneinfo/UTC');
    expect(fs.readlinkSync(path.join(target, 'up'))).toBe('../x');
    const below = await zipWithManifest(
      [{ name: 'link', kind: 'symlink', data: '/etc' }, { name: 'link/passwd', data: 'x' }],
      [mfile('link', 'symlink', { size: 4, target: '/etc' }), mdata('link/passwd', 'x')],
    );
    await expectRefused(below, 'symlink-escape', { allowExternalSymlinks: true });
  });

  it('symlink escape: a relative target climbing above the root', async () => {
    const zip = await zipWithManifest(
      [{ name: 'd/up', kind: 'symlink', data: '../..' }],
      [mfile('d', 'dir'), mfile('d/up', 'symlink', { size: 5, target: '../..' })],
    );
    await expectRefused(zip, 'symlink-escape');
  });

  it('symlink escape through another symlink (each harmless alone, textually)', async () => {
    // d/up -> .. is the root itself; x -> d/up/../outside then leaves it.
    const files = [mfile('d', 'dir'), mfile('d/up', 'symlink', { size: 2, target: '..' }), mfile('x', 'symlink', { size: 15, target: 'd/up/../outside' })];
    const zip = await zipWithManifest([{ name: 'd/up', kind: 'symlink', data: '..' }, { name: 'x', kind: 'symlink', data: 'd/up/../outside' }], files);
    await expectRefused(zip, 'symlink-escape');
  });

  it('a symlink entry the manifest calls a file (no link-then-write through it)', async () => {
    const zip = await zipWithManifest([{ name: 'l', kind: 'symlink', data: 'x' }], [mdata('l', 'x')]);
    await expectRefused(zip, 'type-mismatch');
  });

  describe('zip bombs', () => {
    const GiB = 1024 ** 3;
    let bomb: string;
    beforeAll(async () => {
      // 1 GiB of zeros deflated by yazl to about 1 MiB.
      bomb = sandboxZip();
      const files = [{ ...mfile('zeros', 'file'), size: GiB, sha256: '0'.repeat(64) }];
      await buildZip(bomb, [{ name: 'zeros', stream: () => zeros(GiB), size: GiB, compress: true }, { name: MANIFEST_NAME, data: manifestText(files) }]);
      expect(fs.statSync(bomb).size).toBeLessThan(2 * 1024 * 1024);
    });

    it('refused up front by its declared ratio', async () => {
      const err = await expectRefused(bomb, 'compression-ratio');
      expect(err.message).toMatch(/zeros/);
    });

    it('refused up front by the total size limit', async () => {
      await expectRefused(bomb, 'too-large', { maxTotalBytes: 100 * 1024 * 1024, maxRatio: 1e9 });
    });

    it('with lying headers: refused while inflating, at the declared size', async () => {
      // The central directory and the manifest claim 1000 bytes (below any ratio check); the
      // data inflates to 64 MiB.
      const liar = sandboxZip();
      const big = 64 * 1024 * 1024;
      const files = [{ ...mfile('zeros', 'file'), size: 1000, sha256: sha256(Buffer.alloc(1000)) }];
      await buildZip(liar, [{ name: 'zeros', stream: () => zeros(big), size: big, compress: true }, { name: MANIFEST_NAME, data: manifestText(files) }]);
      const buf = fs.readFileSync(liar);
      buf.writeUInt32LE(1000, centralRecord(buf, 'zeros') + 24);
      fs.writeFileSync(liar, buf);
      await expectRefused(liar, 'size-mismatch');
    });
  });

  it('a truncated ZIP', async () => {
    const zip = await validExport();
    const buf = fs.readFileSync(zip);
    for (const keep of [Math.floor(buf.length / 2), buf.length - 10, 100]) {
      const cut = path.join(tempDir('coffer-import-'), 'cut.zip');
      fs.writeFileSync(cut, buf.subarray(0, keep));
      await expectRefused(cut, 'truncated');
    }
  });

  it('a file whose content does not match its checksum', async () => {
    const zip = await validExport();
    const buf = fs.readFileSync(zip);
    // Stored data: flip one byte of the file's content in place.
    const at = buf.indexOf('the content of f');
    expect(at).toBeGreaterThan(0);
    buf[at] = 'T'.charCodeAt(0);
    const bad = path.join(tempDir('coffer-import-'), 'bad.zip');
    fs.writeFileSync(bad, buf);
    await expectRefused(bad, 'checksum-mismatch');
  });

  it('an entry the manifest does not list', async () => {
    const zip = await zipWithManifest([{ name: 'listed', data: 'a' }, { name: 'extra', data: 'b' }], [mdata('listed', 'a')]);
    await expectRefused(zip, 'unexpected-entry');
  });

  it('a manifest entry missing from the ZIP', async () => {
    const zip = await zipWithManifest([{ name: 'listed', data: 'a' }], [mdata('listed', 'a'), mdata('gone', 'b')]);
    await expectRefused(zip, 'missing-entry');
  });

  it('a size that differs from the manifest', async () => {
    const zip = await zipWithManifest([{ name: 'f', data: 'abc' }], [{ ...mdata('f', 'abc'), size: 4 }]);
    await expectRefused(zip, 'size-mismatch');
  });

  it('not a zip at all, or an empty file', async () => {
    for (const content of [Buffer.from('this is not a zip file, just text\n'.repeat(100)), Buffer.alloc(0)]) {
      const zip = sandboxZip();
      fs.writeFileSync(zip, content);
      await expectRefused(zip, 'not-a-zip');
    }
  });

  it('a ZIP without manifest.json, and broken manifests', async () => {
    const zip = sandboxZip();
    await buildZip(zip, [{ name: 'a', data: 'a' }]);
    await expectRefused(zip, 'manifest-missing');
    const broken: string[] = [
      '{"format":"coffer-backup"',
      JSON.stringify({ format: 'other', version: 1 }),
      manifestText([mdata('a', 'a')]).replace('"version":1', '"version":2'),
      manifestText([mdata('a', 'a')]).replace('"size":1', '"size":"1"'),
      manifestText([mdata('a', 'a')]).replace('"mode":420', '"mode":-1'),
      manifestText([mdata('a', 'a')]).replace(/"sha256":"[0-9a-f]+"/, '"sha256":"xyz"'),
      manifestText([mdata('a', 'a')]).replace('"hostname":"test"', '"hostname":7'),
      manifestText([mdata('a', 'a')]).replace('"metadata":{}', '"metadata":[]'),
      manifestText([mdata('a/b', 'a')]),
    ];
    for (const text of broken) {
      const z = sandboxZip();
      await buildZip(z, [{ name: 'a', data: 'a' }, { name: MANIFEST_NAME, data: text }]);
      await expectRefused(z, 'manifest-invalid');
    }
  });

  it('duplicate names', async () => {
    const zip = await zipWithManifest([{ name: 'a', data: 'a' }, { name: 'a', data: 'a' }], [mdata('a', 'a')]);
    await expectRefused(zip, 'duplicate-entry');
    const zip2 = await zipWithManifest([{ name: 'a', data: 'a' }], [mdata('a', 'a'), mdata('a', 'a')]);
    await expectRefused(zip2, 'duplicate-entry');
  });

  it('encrypted entries', async () => {
    const zip = await zipWithManifest([{ name: 'a', data: 'a' }], [mdata('a', 'a')]);
    const buf = fs.readFileSync(zip);
    const rec = centralRecord(buf, 'a');
    buf.writeUInt16LE(buf.readUInt16LE(rec + 8) | 1, rec + 8);
    // Encrypted stored data carries a 12-byte header; keep the sizes consistent so only the flag differs.
    buf.writeUInt32LE(buf.readUInt32LE(rec + 20) + 12, rec + 20);
    fs.writeFileSync(zip, buf);
    await expectRefused(zip, 'encrypted');
  });

  it('more entries or bytes than the limits', async () => {
    const zip = await zipWithManifest([{ name: 'a', data: 'a'.repeat(100) }, { name: 'b', data: 'b' }], [mdata('a', 'a'.repeat(100)), mdata('b', 'b')]);
    await expectRefused(zip, 'too-many-entries', { maxEntries: 2 });
    await expectRefused(zip, 'too-large', { maxTotalBytes: 50 });
    await expectRefused(zip, 'manifest-invalid', { maxManifestBytes: 10 });
    const many = await zipWithManifest([], Array.from({ length: 5 }, (_, i) => mfile(`d${i}`, 'dir')));
    await expectRefused(many, 'too-many-entries', { maxEntries: 4 });
  });

  it('nothing when cancelled', async () => {
    const zip = await zipWithManifest([{ name: 'a', data: 'a' }], [mdata('a', 'a')]);
    const target = path.join(path.dirname(zip), 'target');
    fs.mkdirSync(target);
    const ac = new AbortController();
    ac.abort();
    await expect(extractBackupZip(zip, target, { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('a target that is missing or not empty', async () => {
    const zip = await zipWithManifest([{ name: 'a', data: 'a' }], [mdata('a', 'a')]);
    const dir = path.dirname(zip);
    await expect(extractBackupZip(zip, path.join(dir, 'missing'))).rejects.toMatchObject({ reason: 'bad-target' });
    const full = path.join(dir, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'keep'), 'mine');
    await expect(extractBackupZip(zip, full)).rejects.toMatchObject({ reason: 'bad-target' });
    expect(fs.readFileSync(path.join(full, 'keep'), 'utf8')).toBe('mine');
    fs.symlinkSync(full, path.join(dir, 'via-link'));
    await expect(extractBackupZip(zip, path.join(dir, 'via-link'))).rejects.toMatchObject({ reason: 'bad-target' });
  });

  it('a failure late in the import removes what was written, read-only directories included', async () => {
    // The directory is restored 0o555 only at the end; the bad checksum comes after good files.
    const zip = await zipWithManifest(
      [{ name: 'ro/ok', data: 'fine' }, { name: 'ro/bad', data: 'evil' }],
      [mfile('ro', 'dir', { mode: 0o555 }), mdata('ro/ok', 'fine'), { ...mdata('ro/bad', 'evil'), sha256: '1'.repeat(64) }],
    );
    await expectRefused(zip, 'checksum-mismatch');
  });
});

let exported: string | undefined;

/** A small export made by the engine (default layout, stored), for corrupting. */
async function validExport(): Promise<string> {
  if (exported) return exported;
  const work = tempDir('coffer-import-src-');
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  fs.writeFileSync(path.join(src, 'd', 'f'), 'the content of f');
  fs.writeFileSync(path.join(src, 'g'), 'g'.repeat(5000));
  const { repo, snapshot } = await snapshotOf(work, src);
  const plan = await planSnapshotZip(repo, snapshot);
  exported = path.join(work, 'export.zip');
  await writeSnapshotZip(plan, fs.createWriteStream(exported));
  const target = path.join(work, 'check');
  fs.mkdirSync(target);
  await extractBackupZip(exported, target);
  return exported;
}
