/**
 * The engine on S3 through the built CLI, against a real Ceph RADOS Gateway, and interoperability
 * with the real restic binary there in both directions. The CLI takes credentials from restic's
 * variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), as restic does. Files are large enough that
 * full packs go up as multipart uploads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { coffer, cofferOk, manifest, pseudoRandom, requireRestic, resticOk, tempDir } from './helpers.js';
import { startCephS3 } from './support/services.js';

const ceph = await startCephS3();
const restic = ceph ? requireRestic() : false;
const work = tempDir('coffer-s3-interop-');
const src = path.join(work, 'src');

afterAll(async () => {
  await ceph?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function buildTree(root: string): void {
  fs.mkdirSync(path.join(root, 'nested', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(root, 'large-40m.bin'), pseudoRandom(40 * 1024 * 1024 + 3, 11));
  fs.writeFileSync(path.join(root, 'nested', 'medium-3m.bin'), pseudoRandom(3 * 1024 * 1024, 12));
  fs.writeFileSync(path.join(root, 'nested', 'deeper', 'text.txt'), 'the quick brown fox\n'.repeat(50_000));
  fs.writeFileSync(path.join(root, 'small.txt'), 'hello from s3\n');
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.symlinkSync('small.txt', path.join(root, 'link'));
  fs.chmodSync(path.join(root, 'small.txt'), 0o640);
}

function s3(server: NonNullable<typeof ceph>): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

/** What was backed up from `src` lands under target + the absolute source path, as with restic. */
function restored(target: string): string {
  return path.join(target, src);
}

describe.skipIf(!ceph || !restic)('S3 end to end with the CLI and restic (Ceph RGW)', () => {
  const server = ceph!;
  const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
  const cofferRepo = `s3:${server.endpoint}/coffer-interop/written-by-coffer`;
  const resticRepo = `s3:${server.endpoint}/restic-interop/written-by-restic`;
  buildTree(src);

  it('coffer init, backup, check --read-data and restore on S3', async () => {
    cofferOk(['-r', cofferRepo, 'init'], { env });
    const summary = JSON.parse(cofferOk(['-r', cofferRepo, '--json', 'backup', src], { env }).stdout.trim().split('\n').at(-1)!);
    expect(summary.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    cofferOk(['-r', cofferRepo, 'check', '--read-data'], { env });
    // Full packs went up in parts: a multipart object's ETag ends in -<parts>.
    const listed = await s3(server).send(new ListObjectsV2Command({ Bucket: 'coffer-interop', Prefix: 'written-by-coffer/data/' }));
    expect(listed.Contents?.some((o) => /-\d+"$/.test(o.ETag ?? ''))).toBe(true);
    const target = path.join(work, 'restore-coffer');
    cofferOk(['-r', cofferRepo, 'restore', 'latest', '--target', target], { env });
    expect(manifest(restored(target), { times: true })).toEqual(manifest(src, { times: true }));
  });

  it('restic checks, lists and restores what coffer wrote on S3', () => {
    resticOk(['-r', cofferRepo, 'check', '--read-data'], env);
    const snaps = JSON.parse(resticOk(['-r', cofferRepo, '--json', 'snapshots'], env).stdout) as { paths: string[] }[];
    expect(snaps.map((s) => s.paths)).toEqual([[src]]);
    const target = path.join(work, 'restore-by-restic');
    resticOk(['-r', cofferRepo, 'restore', 'latest', '--target', target], env);
    expect(manifest(restored(target), { times: true })).toEqual(manifest(src, { times: true }));
  });

  it('coffer checks and restores what restic wrote on S3', () => {
    resticOk(['-r', resticRepo, 'init'], env);
    resticOk(['-r', resticRepo, 'backup', src], env);
    cofferOk(['-r', resticRepo, 'check', '--read-data'], { env });
    const snaps = JSON.parse(cofferOk(['-r', resticRepo, '--json', 'snapshots'], { env }).stdout) as { paths: string[] }[];
    expect(snaps.map((s) => s.paths)).toEqual([[src]]);
    const target = path.join(work, 'restore-from-restic');
    cofferOk(['-r', resticRepo, 'restore', 'latest', '--target', target], { env });
    expect(manifest(restored(target), { times: true })).toEqual(manifest(src, { times: true }));
  });

  it('names the cause when credentials are wrong or the repository is missing', () => {
    const wrong = coffer(['-r', cofferRepo, 'snapshots'], { env: { ...env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/403 SignatureDoesNotMatch/);
    expect(wrong.stderr).not.toContain(server.secretAccessKey);
    const missing = coffer(['-r', `s3:${server.endpoint}/coffer-interop/nothing-here`, 'snapshots'], { env });
    expect(missing.code).toBe(10);
  });
});
