/** Runs a backup job: the instance's selected parts through the engine into its repository. */
import * as path from 'node:path';
import type { Backup, Catalog, Instance } from '../../catalog/index.js';
import { CancelledError, LockConflictError, NothingToBackUpError, type Repository, type Snapshot, backup, withLockOverlapped } from '../../repo/index.js';
import { backupFileSizeOr } from '../backup-file-meta.js';
import { type DirectoryPart, cofferExcludes, enginePatterns, partsOf } from '../parts.js';
import type { OwnParts } from '../configuration/index.js';
import { checkPartialItems } from '../partial-items.js';
import type { RepositoryService } from '../repositories.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { retryOnLockConflict } from './lock-retry.js';

export const INSTANCE_TAG = 'instance:';
export const BACKUP_TAG = 'coffer-backup:';

/**
 * What a backup reads: each selected directory part, narrowed to the items of a partial backup.
 * A partial backup's query_args filters only the parts it names (Syncano's documented rule: "if
 * there is no key for given type or value of key is null ... all objects of this type should be
 * included"): a part it does not name, or names with null, is read whole; a list reads only those
 * items inside the part, and an empty list reads nothing of it.
 */
export function selectedPaths(instance: Instance, b: Pick<Backup, 'scope' | 'queryArgs' | 'includeFiles'>): { paths: string[]; excludes: string[]; parts: DirectoryPart[] } {
  const parts = b.includeFiles ? partsOf(instance.parts) : [];
  const itemsOf = (p: DirectoryPart): string[] | null => (b.scope === 'partial' ? b.queryArgs?.[p.name] ?? null : null);
  const chosen = parts.filter((p) => itemsOf(p)?.length !== 0);
  const paths: string[] = [];
  for (const p of chosen) {
    const items = itemsOf(p);
    if (items) for (const item of items) paths.push(path.join(p.path, item));
    else paths.push(p.path);
  }
  return { paths, excludes: chosen.flatMap(enginePatterns), parts: chosen };
}

export interface BackupExecutorOptions {
  /** How long an attempt waits for a repository locked by others before the job is queued again. */
  lockWaitMs?: number;
  /** Coffer's own files (secret, catalog, its folders) that a part covering them leaves out. */
  cofferFiles?: readonly string[];
}

export function backupExecutor(catalog: Catalog, repos: RepositoryService, workers: number | undefined, ownParts?: OwnParts, opts: BackupExecutorOptions = {}): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const id = ctx.job.backupId!;
    const b = await catalog.backups.get(id);
    if (!b) return { state: 'error', error: `backup ${id} no longer exists` };
    const fail = (message: string): JobOutcome => ({ state: 'error', error: message, backup: { status: 'error', statusInfo: message } });
    const instance = await catalog.instances.byId(b.instanceId);
    if (!instance) return fail('the instance no longer exists');
    await catalog.backups.update(id, { status: 'running', statusInfo: null });
    // Checked again when the backup runs: the tree may have changed since the request.
    const refused = await checkPartialItems(instance, b).then(() => undefined, (err: Error) => err);
    if (refused) return fail(refused.message);
    const selected = selectedPaths(instance, b);
    // Parts the instance has without naming them (device: Coffer's own configuration), recorded in part_paths like the others.
    const own = await ownParts?.forBackup(instance).catch((err: Error) => err);
    if (own instanceof Error) return fail(`Coffer's configuration could not be written for the backup: ${own.message}`);
    const excludes = [...selected.excludes, ...cofferExcludes(selected.parts, opts.cofferFiles ?? [], (own ?? []).map((p) => p.path))];
    const parts = [...selected.parts, ...(own ?? [])];
    const paths = [...selected.paths, ...(own ?? []).map((p) => p.path)];
    if (paths.length === 0) return fail(b.includeFiles ? `instance ${instance.name} has no parts to back up` : 'nothing selected: include_files is false and the instance has no database parts');

    let repo: Repository;
    try {
      repo = await repos.open(b.repositoryId);
    } catch (err) {
      return fail(`cannot open the repository: ${(err as Error).message}`);
    }
    const warnings: string[] = [];
    const time = new Date();
    let lockAttempts = 0;
    try {
      const result = await retryOnLockConflict(ctx.signal, async () => {
        // Each lock attempt on a freshly opened repository: nothing a lost attempt kept in memory
        // (its pack writer, the write gate of its lock) carries over into the next.
        if (lockAttempts++ > 0) repo = await repos.open(b.repositoryId);
        return withLockOverlapped(repo, async (lockLost) => {
          const signal = AbortSignal.any([ctx.signal, lockLost]);
          await repo.loadIndex();
          const parentRec = b.type === 'full' ? undefined : await catalog.backups.latestSuccess(b.instanceId, b.type === 'differential' ? 'full' : undefined);
          let parent: Snapshot | undefined;
          if (parentRec?.snapshotId && parentRec.repositoryId === b.repositoryId) {
            parent = await repo.loadSnapshot(parentRec.snapshotId).catch(() => undefined);
          }
          if (parent) await catalog.backups.update(id, { parentId: parentRec!.id });
          const made = await backup(repo, {
            paths, excludes, host: b.hostname, time, tags: [`${INSTANCE_TAG}${instance.name}`, `${BACKUP_TAG}${id}`, b.type],
            // A partial backup's items lie below their part: never reached through a link planted there.
            confine: selected.parts.map((p) => p.path),
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
          // Saving the snapshot waited for the lock, so it is held: drop what an earlier attempt left.
          if (ctx.job.attempts > 1) await removeEarlierSnapshots(repo, id, made.snapshotId, ctx);
          return made;
        });
      }, opts.lockWaitMs);
      const s = result.summary;
      ctx.progress({ files_done: s.total_files_processed, bytes_done: s.total_bytes_processed, files_total: s.total_files_processed, bytes_total: s.total_bytes_processed, errors: result.errors });
      const info = result.errors > 0 ? `${result.errors} files could not be read: ${warnings.slice(0, 5).join('; ')}` : warnings.length ? warnings.slice(0, 5).join('; ') : null;
      const done = {
        status: 'success', statusInfo: info, snapshotId: result.snapshotId, backupTime: time.toISOString(),
        files: s.total_files_processed, bytesAdded: s.data_added,
        // Where each part was at backup time: restores map them to the target's parts by name.
        extra: { ...(b.extra ?? {}), part_paths: Object.fromEntries(parts.map((p) => [p.name, p.path])) },
      } as const;
      // A backup's size is that of its backup file (what a download sends).
      const size = await backupFileSizeOr(repo, { ...b, ...done }, s.total_bytes_processed);
      return { state: 'success', backup: { ...done, size } };
    } catch (err) {
      if (err instanceof CancelledError || ctx.signal.aborted) {
        const r: unknown = ctx.signal.reason;
        return fail(r instanceof Error ? r.message : 'canceled');
      }
      if (err instanceof NothingToBackUpError) return fail(err.message);
      // The runner queues the job again while it has attempts left.
      if (err instanceof LockConflictError) return { ...fail(`the repository is locked: ${err.message}`), retryable: true };
      return fail((err as Error).message ?? String(err));
    }
  };
}

/**
 * A worker that died between writing its snapshot and recording it in the catalog left a snapshot
 * no record names; the retry's own snapshot replaces it. Snapshots are written last, so any other
 * dead attempt left none.
 */
async function removeEarlierSnapshots(repo: Repository, backupId: number, keep: string, ctx: JobContext): Promise<void> {
  const tag = `${BACKUP_TAG}${backupId}`;
  const snapshots = await repo.listSnapshots(() => undefined);
  for (const s of snapshots) {
    if (s.id === keep || !s.tags?.includes(tag)) continue;
    await repo.backend.remove({ type: 'snapshot', name: s.id });
    ctx.log(`removed snapshot ${s.id.slice(0, 8)} left by an earlier attempt`);
  }
}
