/** Runs a backup job: the instance's selected parts through the engine into its repository. */
import * as path from 'node:path';
import type { Backup, Catalog, Instance } from '../../catalog/index.js';
import { CancelledError, LockConflictError, NothingToBackUpError, type Snapshot, backup, withLockOverlapped } from '../../repo/index.js';
import { type DirectoryPart, enginePatterns, partsOf } from '../parts.js';
import type { RepositoryService } from '../repositories.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { retryOnLockConflict } from './lock-retry.js';

export const INSTANCE_TAG = 'instance:';
export const BACKUP_TAG = 'coffer-backup:';

/** What a backup reads: each selected directory part, narrowed to the items of a partial backup. */
export function selectedPaths(instance: Instance, b: Pick<Backup, 'scope' | 'queryArgs' | 'includeFiles'>): { paths: string[]; excludes: string[]; parts: DirectoryPart[] } {
  const parts = b.includeFiles ? partsOf(instance.parts) : [];
  const chosen = b.scope === 'partial' && b.queryArgs ? parts.filter((p) => p.name in b.queryArgs!) : parts;
  const paths: string[] = [];
  for (const p of chosen) {
    const items = b.scope === 'partial' ? b.queryArgs?.[p.name] : null;
    if (items) for (const item of items) paths.push(path.join(p.path, item));
    else paths.push(p.path);
  }
  return { paths, excludes: chosen.flatMap(enginePatterns), parts: chosen };
}

export function backupExecutor(catalog: Catalog, repos: RepositoryService, workers: number | undefined): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const id = ctx.job.backupId!;
    const b = await catalog.backups.get(id);
    if (!b) return { state: 'error', error: `backup ${id} no longer exists` };
    const fail = async (message: string): Promise<JobOutcome> => {
      await catalog.backups.update(id, { status: 'error', statusInfo: message });
      return { state: 'error', error: message };
    };
    const instance = await catalog.instances.byId(b.instanceId);
    if (!instance) return fail('the instance no longer exists');
    await catalog.backups.update(id, { status: 'running', statusInfo: null });
    const { paths, excludes, parts } = selectedPaths(instance, b);
    if (paths.length === 0) return fail(b.includeFiles ? `instance ${instance.name} has no parts to back up` : 'nothing selected: include_files is false and the instance has no database parts');

    let repo;
    try {
      repo = await repos.open(b.repositoryId);
    } catch (err) {
      return fail(`cannot open the repository: ${(err as Error).message}`);
    }
    const warnings: string[] = [];
    const time = new Date();
    try {
      const result = await retryOnLockConflict(ctx.signal, () => withLockOverlapped(repo, async (lockLost) => {
        const signal = AbortSignal.any([ctx.signal, lockLost]);
        await repo.loadIndex();
        const parentRec = b.type === 'full' ? undefined : await catalog.backups.latestSuccess(b.instanceId, b.type === 'differential' ? 'full' : undefined);
        let parent: Snapshot | undefined;
        if (parentRec?.snapshotId && parentRec.repositoryId === b.repositoryId) {
          parent = await repo.loadSnapshot(parentRec.snapshotId).catch(() => undefined);
        }
        if (parent) await catalog.backups.update(id, { parentId: parentRec!.id });
        return backup(repo, {
          paths, excludes, host: b.hostname, time, tags: [`${INSTANCE_TAG}${instance.name}`, `${BACKUP_TAG}${id}`, b.type],
          ...(parent ? { parent } : {}), ...(workers !== undefined ? { workers } : {}), signal,
          onProgress: (p) => ctx.progress({
            files_done: p.filesDone, bytes_done: p.bytesDone, errors: p.errors,
            ...(p.filesTotal !== undefined ? { files_total: p.filesTotal } : {}), ...(p.bytesTotal !== undefined ? { bytes_total: p.bytesTotal } : {}),
          }),
          onWarning: (p, m) => {
            if (warnings.length < 20) warnings.push(`${p}: ${m}`);
            ctx.log(`warning: ${p}: ${m}`);
          },
        });
      }));
      const s = result.summary;
      ctx.progress({ files_done: s.total_files_processed, bytes_done: s.total_bytes_processed, files_total: s.total_files_processed, bytes_total: s.total_bytes_processed, errors: result.errors });
      const info = result.errors > 0 ? `${result.errors} files could not be read: ${warnings.slice(0, 5).join('; ')}` : warnings.length ? warnings.slice(0, 5).join('; ') : null;
      await catalog.backups.update(id, {
        status: 'success', statusInfo: info, snapshotId: result.snapshotId, backupTime: time.toISOString(),
        size: s.total_bytes_processed, files: s.total_files_processed, bytesAdded: s.data_added,
        // Where each part was at backup time: restores map them to the target's parts by name.
        extra: { ...(b.extra ?? {}), part_paths: Object.fromEntries(parts.map((p) => [p.name, p.path])) },
      });
      return { state: 'success' };
    } catch (err) {
      if (err instanceof CancelledError || ctx.signal.aborted) {
        const r: unknown = ctx.signal.reason;
        return fail(r instanceof Error ? r.message : 'canceled');
      }
      if (err instanceof NothingToBackUpError) return fail(err.message);
      if (err instanceof LockConflictError) return fail(`the repository is locked: ${err.message}`);
      return fail((err as Error).message ?? String(err));
    }
  };
}
