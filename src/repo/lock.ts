/**
 * Repository locks (design.rst "Locks"): shared for backup, exclusive for prune. A lock is stale
 * when older than 30 minutes, or when it was made on this host by a process that no longer exists.
 * Held locks are refreshed every 5 minutes so others never see them as stale.
 */
import { hostname } from 'node:os';
import { LockConflictError } from './errors.js';
import type { ID } from './ids.js';
import { safeUsername } from './keys.js';
import type { Repository } from './repository.js';
import { formatTime, parseTime } from './time.js';

export interface LockJSON {
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  uid?: number;
  gid?: number;
}

const STALE_AFTER_MS = 30 * 60 * 1000;
const REFRESH_EVERY_MS = 5 * 60 * 1000;
/** After writing our lock, wait this long and look again, to catch a racing locker. */
const RECHECK_DELAY_MS = 200;

export function isStale(lock: LockJSON, now = Date.now()): boolean {
  const t = parseTime(lock.time).getTime();
  if (Number.isNaN(t) || now - t > STALE_AFTER_MS) return true;
  if (lock.hostname === hostname()) {
    try {
      process.kill(lock.pid, 0);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  return false;
}

function describe(lock: LockJSON): string {
  return `${lock.exclusive ? 'exclusive' : 'shared'} lock by PID ${lock.pid} on ${lock.hostname} (${lock.username}) since ${lock.time}`;
}

async function readLocks(repo: Repository, skip?: ID): Promise<{ id: ID; lock: LockJSON }[]> {
  const out: { id: ID; lock: LockJSON }[] = [];
  for await (const f of repo.backend.list('lock')) {
    if (f.name === skip) continue;
    try {
      out.push({ id: f.name, lock: (await repo.loadUnpacked('lock', f.name)) as LockJSON });
    } catch {
      // A lock removed while listing, or unreadable (another key?): ignore as restic does.
    }
  }
  return out;
}

/**
 * The first live lock that conflicts with the one we want. Stale locks are removed on the way, as
 * newer restic versions do: a process killed mid-backup must not block the repository (for restic
 * 0.14 too, which only ignores stale locks through `restic unlock`).
 */
async function conflict(repo: Repository, others: { id: ID; lock: LockJSON }[], exclusive: boolean): Promise<LockJSON | undefined> {
  for (const { id, lock } of others) {
    if (isStale(lock)) {
      await repo.backend.remove({ type: 'lock', name: id }).catch(() => undefined);
      continue;
    }
    if (exclusive || lock.exclusive) return lock;
  }
  return undefined;
}

export class RepoLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(private readonly repo: Repository, private id: ID, private readonly json: LockJSON) {}

  static async acquire(repo: Repository, exclusive: boolean): Promise<RepoLock> {
    const existing = await conflict(repo, await readLocks(repo), exclusive);
    if (existing) throw new LockConflictError(`repository is already locked: ${describe(existing)}`);
    const json = newLockJSON(exclusive);
    const id = await repo.saveUnpacked('lock', json);
    await new Promise((r) => setTimeout(r, RECHECK_DELAY_MS));
    const racer = await conflict(repo, await readLocks(repo, id), exclusive);
    if (racer) {
      await repo.backend.remove({ type: 'lock', name: id });
      throw new LockConflictError(`repository is already locked: ${describe(racer)}`);
    }
    const lock = new RepoLock(repo, id, json);
    lock.timer = setInterval(() => void lock.refresh().catch(() => undefined), REFRESH_EVERY_MS);
    lock.timer.unref();
    return lock;
  }

  /** Writes a fresh lock file with the current time, then removes the old one. */
  async refresh(): Promise<void> {
    if (this.released) return;
    const json = { ...this.json, time: formatTime(new Date()) };
    const id = await this.repo.saveUnpacked('lock', json);
    const old = this.id;
    this.id = id;
    await this.repo.backend.remove({ type: 'lock', name: old });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.repo.backend.remove({ type: 'lock', name: this.id });
  }
}

function newLockJSON(exclusive: boolean): LockJSON {
  return {
    time: formatTime(new Date()),
    exclusive,
    hostname: hostname(),
    username: safeUsername(),
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
  };
}

/** Removes stale locks (restic's `unlock`); with `all`, every lock. Returns how many were removed. */
export async function removeLocks(repo: Repository, all = false): Promise<number> {
  let n = 0;
  for (const { id, lock } of await readLocks(repo)) {
    if (all || isStale(lock)) {
      await repo.backend.remove({ type: 'lock', name: id });
      n++;
    }
  }
  return n;
}

/** Runs `fn` under a lock, released however `fn` ends. */
export async function withLock<T>(repo: Repository, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  const lock = await RepoLock.acquire(repo, exclusive);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Runs `fn` under a shared lock without waiting for the lock to settle first: reading (index,
 * parent trees, the files to back up) starts at once, while every write to the repository waits
 * until the lock is held. If the lock cannot be had, nothing was written and the lock error is
 * what the caller sees, whatever `fn` ran into meanwhile.
 */
export async function withLockOverlapped<T>(repo: Repository, fn: (lockLost: AbortSignal) => Promise<T>): Promise<T> {
  const locking = RepoLock.acquire(repo, false);
  repo.holdWritesUntil(locking);
  // `fn` learns of a failed lock through this signal and stops early; the error itself is
  // rethrown below, so the rejection is handled here rather than left unobserved meanwhile.
  const lost = new AbortController();
  locking.catch(() => lost.abort());
  let lock: RepoLock | undefined;
  try {
    const result = await fn(lost.signal);
    lock = await locking;
    return result;
  } catch (err) {
    lock = await locking; // a lock error, if any, replaces what fn ran into while it was pending
    throw err;
  } finally {
    if (!lock) lock = await locking.catch(() => undefined);
    await lock?.release();
  }
}
