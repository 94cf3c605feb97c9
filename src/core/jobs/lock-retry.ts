import { setTimeout as sleep } from 'node:timers/promises';
import { LockConflictError } from '../../repo/index.js';

/**
 * Retries an operation that found the repository locked by someone else (a prune holding the
 * exclusive lock, or backups holding shared ones while a prune waits), for up to `maxMs`.
 * restic gives up at once; a server has queues, so it waits its turn instead.
 * The waits are jittered: two lockers that met (each wrote its lock, saw the other's on the
 * recheck and withdrew) would otherwise back off in lockstep and meet again at every retry.
 */
export async function retryOnLockConflict<T>(signal: AbortSignal, fn: () => Promise<T>, maxMs = 10 * 60_000): Promise<T> {
  const until = Date.now() + maxMs;
  let wait = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof LockConflictError) || Date.now() + wait > until || signal.aborted) throw err;
    }
    await sleep(Math.round(wait * (0.5 + Math.random())), undefined, { signal });
    wait = Math.min(wait * 2, 10_000);
  }
}
