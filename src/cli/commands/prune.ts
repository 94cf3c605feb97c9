import { type PruneStats, prune, withLock } from '../../repo/index.js';
import type { Repository } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { formatBytes, plural } from '../format.js';

export interface PruneCommandOptions {
  maxUnused?: string;
  dryRun?: boolean;
}

export function parseMaxUnused(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (!m) throw new UsageError(`invalid --max-unused ${JSON.stringify(s)}: use a percentage such as 5%`);
  return Number(m[1]) / 100;
}

/** Prune under an exclusive lock; shared with `forget --prune`. */
export async function runPrune(g: GlobalOptions, repo: Repository, o: PruneCommandOptions, signal: AbortSignal): Promise<PruneStats> {
  const maxUnusedFraction = parseMaxUnused(o.maxUnused);
  return prune(repo, { ...(maxUnusedFraction !== undefined ? { maxUnusedFraction } : {}), dryRun: !!o.dryRun, signal, onProgress: (m) => say(g, m) });
}

export async function pruneCommand(g: GlobalOptions, o: PruneCommandOptions, signal: AbortSignal): Promise<number> {
  const repo = await openRepo(g);
  const stats = await withLock(repo, true, () => runPrune(g, repo, o, signal));
  report(g, stats, !!o.dryRun);
  return 0;
}

export function report(g: GlobalOptions, s: PruneStats, dryRun: boolean): void {
  if (g.json) {
    printJSON({
      message_type: 'prune', dry_run: dryRun, packs_before: s.packsBefore, packs_deleted: s.packsDeleted, packs_repacked: s.packsRepacked,
      blobs_removed: s.blobsRemoved, bytes_freed: s.bytesFreed, unused_bytes_after: s.unusedBytesAfter,
    });
  } else {
    say(g, `${dryRun ? 'would delete' : 'deleted'} ${plural(s.packsDeleted, 'pack')} (${s.packsRepacked} repacked), ${plural(s.blobsRemoved, 'blob')}, freeing ${formatBytes(s.bytesFreed)}`);
  }
}
