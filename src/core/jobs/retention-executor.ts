/**
 * Runs retention for an instance: the keep policy of its schedule over the instance's successful
 * backups (the catalog's view, which is what users see), then the snapshots of those no longer kept
 * are removed and the repository pruned, all under the repository's exclusive lock. Uploaded
 * backups are left out unless the schedule asks for them: an uploader's file must not be able to
 * push the backups Coffer made out of the policy (an upload is dated by its arrival, but many
 * uploads would still outnumber a `keep_last`).
 */
import type { Backup, Catalog } from '../../catalog/index.js';
import { type ForgetPolicy, applyPolicy, isEmptyPolicy, prune, withLock } from '../../repo/index.js';
import type { AuditLog } from '../audit.js';
import { isUploaded } from '../backup-origin.js';
import { SYSTEM_ACTOR } from '../permissions.js';
import type { RepositoryService } from '../repositories.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { retryOnLockConflict } from './lock-retry.js';

export interface RetentionPayload {
  policy: ForgetPolicy;
  /** Prune even when nothing was forgotten (after backups were deleted by hand). */
  pruneAlways?: boolean;
  /** Count uploaded backups under the policy too (and forget them like the others). Default: left alone. */
  includeUploaded?: boolean;
}

async function allSuccessful(catalog: Catalog, instanceId: number): Promise<Backup[]> {
  const out: Backup[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await catalog.backups.list({ instanceId, status: 'success', scope: 'full', limit: 1000, offset });
    out.push(...page.items);
    if (page.items.length < 1000) return out;
  }
}

export function retentionExecutor(catalog: Catalog, repos: RepositoryService, audit: AuditLog): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const { policy, pruneAlways, includeUploaded } = ctx.job.payload as unknown as RetentionPayload;
    const backups = (await allSuccessful(catalog, ctx.job.instanceId))
      .filter((b) => b.backupTime && b.snapshotId && (includeUploaded === true || !isUploaded(b)));
    const doomed = isEmptyPolicy(policy) ? [] : applyPolicy(
      backups.map((b) => ({ id: String(b.id), time: new Date(b.backupTime!), hostname: b.hostname, paths: [], tags: [b.type], backup: b })),
      policy,
    ).remove.map((x) => x.backup);
    ctx.log(`retention keeps ${backups.length - doomed.length} of ${backups.length} backups`);
    const byRepo = new Map<number, Backup[]>();
    for (const b of backups) if (!byRepo.has(b.repositoryId)) byRepo.set(b.repositoryId, []);
    for (const b of doomed) byRepo.get(b.repositoryId)!.push(b);
    let freed = 0;
    for (const [repoId, list] of byRepo) {
      if (list.length === 0 && !pruneAlways) continue;
      const repo = await repos.open(repoId);
      await retryOnLockConflict(ctx.signal, () => withLock(repo, true, async () => {
        for (const b of list) {
          await repo.backend.remove({ type: 'snapshot', name: b.snapshotId! });
          await catalog.backups.remove(b.id);
          await audit.record(SYSTEM_ACTOR, 'backup.forget', `backup:${b.id}`, { reason: 'retention', snapshot: b.snapshotId });
        }
        const stats = await prune(repo, { signal: ctx.signal });
        freed += stats.bytesFreed;
      }));
    }
    ctx.progress({ files_done: doomed.length, bytes_done: freed, current: `forgot ${doomed.length} backups, freed ${freed} bytes` });
    return { state: 'success' };
  };
}
