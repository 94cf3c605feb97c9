/**
 * The engine's fault paths leave no promise rejected without a handler: vitest fails a run that has
 * an unhandled rejection, and `coffer serve` would otherwise die of one (a lock lost mid-backup, a
 * save failing before the worker reports its file done, a pool closed under pending files). A
 * backup retried on the same repository after such a failure starts clean.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FileInfo, type FileType, LocalBackend } from '../storage/index.js';
import { backup } from './archiver.js';
import { BlobSaver } from './blob-saver.js';
import { check } from './checker.js';
import { LockConflictError } from './errors.js';
import { FileSaverPool } from './file-saver-pool.js';
import { hashId } from './ids.js';
import { withLockOverlapped } from './lock.js';
import { Repository } from './repository.js';
import { TEST_PASSWORD, localRepo, tempDir } from './testing.js';
import { formatTime } from './time.js';
import { seal } from './crypto.js';

/** Files of random bytes, each several chunks long, so that each sends many blobs. */
function randomFiles(dir: string, count: number, size: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `f${i}.bin`), randomBytes(size));
}

/** A saver whose uploads can never happen (their gate rejects), already failed by one upload. */
async function failedSaver(repo: Repository): Promise<BlobSaver> {
  const saver = new BlobSaver(repo.backend, repo.key, repo.index, repo.compress, 1, () => Promise.reject(new LockConflictError('repository is already locked: test')));
  for (const text of ['one', 'two']) {
    const blob = Buffer.from(text);
    await saver.addSealedForce('data', hashId(blob), seal(repo.key, blob), 0);
  }
  await expect(saver.flush()).rejects.toThrow(LockConflictError);
  return saver;
}

describe('FileSaverPool fault paths', () => {
  it('a file whose blob save fails before the worker reports it done rejects, with no unhandled rejection', async () => {
    const dir = tempDir();
    const repo = await localRepo(dir);
    randomFiles(path.join(dir, 'src'), 1, 6 * 1024 * 1024);
    const saver = await failedSaver(repo);
    const pool = new FileSaverPool({ key: repo.key, polynomial: repo.config.chunker_polynomial, compress: repo.compress, known: [], saver, workers: 1 });
    try {
      const { done } = await pool.submit(path.join(dir, 'src', 'f0.bin'));
      await expect(done).rejects.toThrow(LockConflictError);
      // Let the worker's remaining messages (blobs of a failed file, then `done`) arrive.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await pool.close();
    }
  });

  it('closing the pool under pending files rejects them, observed', async () => {
    const dir = tempDir();
    const repo = await localRepo(dir);
    randomFiles(path.join(dir, 'src'), 3, 4 * 1024 * 1024);
    const pool = new FileSaverPool({ key: repo.key, polynomial: repo.config.chunker_polynomial, compress: repo.compress, known: [], saver: repo.blobSaver(), workers: 1 });
    const handles = [];
    for (let i = 0; i < 3; i++) handles.push(await pool.submit(path.join(dir, 'src', `f${i}.bin`)));
    await pool.close();
    for (const h of handles) await h.done.then(() => undefined, (err: Error) => expect(err.message).toMatch(/closed/));
  });
});

/** A local backend whose lock rechecks are slow, as on a remote store: the backup packs meanwhile. */
class SlowLockRecheck extends LocalBackend {
  recheckDelayMs = 0;
  private lockLists = 0;
  override async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'lock' && this.recheckDelayMs > 0 && this.lockLists++ % 2 === 1) await new Promise((r) => setTimeout(r, this.recheckDelayMs));
    yield* super.list(type);
  }
}

describe('backup after a lost lock', () => {
  it('fails with the lock error, then succeeds when retried on the same repository', async () => {
    const dir = tempDir();
    await localRepo(dir);
    const backend = new SlowLockRecheck(path.join(dir, 'repo'));
    const repo = await Repository.open(backend, TEST_PASSWORD);
    const src = path.join(dir, 'src');
    randomFiles(src, 24, 2 * 1024 * 1024);
    // A prune takes the exclusive lock while this backup's shared lock waits for its recheck (the
    // racer branch of RepoLock.acquire): the backup has been reading and packing meanwhile.
    const other = await Repository.open(new LocalBackend(path.join(dir, 'repo')), TEST_PASSWORD);
    const attempt = () => withLockOverlapped(repo, async (lockLost) => {
      await repo.loadIndex();
      return backup(repo, { paths: [src], workers: 2, signal: lockLost });
    });
    backend.recheckDelayMs = 1500;
    const first = attempt();
    await new Promise((r) => setTimeout(r, 100));
    const racer = await other.saveUnpacked('lock', { time: formatTime(new Date()), exclusive: true, hostname: hostname(), username: 'prune', pid: process.pid });
    await expect(first).rejects.toThrow(LockConflictError);
    backend.recheckDelayMs = 0;
    await other.backend.remove({ type: 'lock', name: racer });
    const second = await attempt();
    expect(second.summary.total_files_processed).toBe(24);
    // Every blob the snapshot names is in the repository: the failed attempt left nothing half-known.
    const fresh = await Repository.open(new LocalBackend(path.join(dir, 'repo')), TEST_PASSWORD);
    const report = await check(fresh, { readData: true });
    expect(report.errors).toEqual([]);
  });
});
