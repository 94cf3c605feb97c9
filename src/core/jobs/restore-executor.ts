/**
 * Runs a restore job: a backup's parts, whole or selected paths, into its own instance or another one.
 *
 * The rules that keep a restore from reaching past what it may touch live here, whatever surface
 * asked: a destination is always a part path of the target instance, or where Coffer itself read
 * the part (never where an uploaded file claims it was read); `exact` (deleting what the backup
 * lacks) only for a whole backup whose parts all restored without errors; the repository's shared
 * lock is held while it is read, as for any reader, so a prune cannot repack the packs under it.
 * Every part is staged first and moved into place only once all of them are, so a failure in one
 * part changes nothing of the others.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Backup, Catalog, Instance, Job } from '../../catalog/index.js';
import { CancelledError, LockConflictError, type Repository, type Snapshot, ensureDirBeneath, restore, withLock } from '../../repo/index.js';
import { isUploaded, isWholeBackup } from '../backup-origin.js';
import type { OwnParts } from '../configuration/index.js';
import { partsOf } from '../parts.js';
import type { RepositoryService } from '../repositories.js';
import { selectedPaths } from './backup-executor.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { retryOnLockConflict } from './lock-retry.js';
import { makeStaging, removeStaging } from './restore-staging.js';
import { mergeTree } from './tree-merge.js';

export interface RestorePayload {
  /** Absolute paths as they were backed up; empty for everything. */
  paths?: string[];
  /** `exact` makes each part equal to the backup (deleting what it lacks); `merge` only writes what the backup holds. */
  mode?: 'merge' | 'exact';
  /** Absent: the job's backup. A download: a Kanto ZIP fetched from a provider (download-restore.ts). */
  source?: DownloadSource;
  /** The Kanto command the restore carries out, for those who look at the job. */
  kanto?: { correlation_id: string; dir: string };
}

/** A restore from a provider's file instead of a backup: what to fetch and under which limits. */
export interface DownloadSource {
  kind: 'download';
  provider: string;
  /** What may be shown of the source (URL without user info and query, bucket and key). */
  shown: Record<string, string>;
  /** The transfer options (credentials included) as JSON sealed with the server secret. */
  options_sealed: string;
  object_name?: string;
  allow_private_addresses: boolean;
  max_bytes: number;
}

export function isDownloadRestore(payload: RestorePayload): payload is RestorePayload & { source: DownloadSource } {
  return payload.source?.kind === 'download';
}

/** One part to restore: read at `from` in the snapshot, put at `to`, these snapshot paths of it. */
interface Step {
  name: string;
  from: string;
  to: string;
  include: string[];
}

export function restoreExecutor(catalog: Catalog, repos: RepositoryService, workers: number | undefined, ownParts?: OwnParts, fromDownload?: Executor): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const payload = ctx.job.payload as RestorePayload;
    if (isDownloadRestore(payload)) return fromDownload ? fromDownload(ctx) : { state: 'failed', error: 'this worker cannot restore from a download' };
    const b = await catalog.backups.get(ctx.job.backupId!);
    if (!b?.snapshotId) return { state: 'failed', error: 'the backup no longer exists' };
    const source = await catalog.instances.byId(b.instanceId);
    const target = await catalog.instances.byId(ctx.job.instanceId);
    if (!source || !target) return { state: 'failed', error: 'the instance no longer exists' };
    const { plan, warnings } = planRestore(b, source, target, payload.paths, ownParts);
    // Parts the instance has without naming them (device: Coffer's own configuration) are put back after the files.
    const own = ownParts?.restores(b, target, payload.paths) === true;
    if (plan.length === 0 && !own) return { state: 'failed', error: warnings[0] ?? 'none of the requested paths is in this backup' };
    const notes: string[] = [];
    const exact = exactAllowed(b, payload, notes);

    const repo = await repos.open(b.repositoryId);
    const stages: string[] = [];
    try {
      const errors = await retryOnLockConflict(ctx.signal, () => withLock(repo, false, async () => {
        await repo.loadIndex();
        const snapshot = await repo.loadSnapshot(b.snapshotId!);
        const staged = await stageAll(ctx, repo, snapshot, plan, stages, workers, warnings);
        const deleting = exact && staged.errors === 0;
        if (exact && !deleting) notes.push('some files could not be restored, so nothing the backup lacks was deleted (restored merge, not exact)');
        for (const [i, step] of plan.entries()) await putInPlace(step, stages[i]!, payload.paths?.length ? 'paths' : deleting ? 'exact' : 'merge', warnings);
        if (own) {
          const warning = await ownParts!.restore({ job: ctx.job, backup: b, target, repo, snapshot, signal: ctx.signal, notice: (m) => notes.push(m) });
          if (warning) warnings.unshift(warning);
        }
        return staged.errors;
      }));
      if (errors > 0 || warnings.length > 0) return { state: 'completed_with_errors', error: [...warnings.slice(0, 5), ...notes].join('; ') || `${errors} errors` };
      return { state: 'completed', error: notes.length ? notes.join('; ') : null };
    } catch (err) {
      if (err instanceof CancelledError || ctx.signal.aborted) {
        const r: unknown = ctx.signal.reason;
        return { state: 'failed', error: r instanceof Error ? r.message : 'canceled' };
      }
      if (err instanceof LockConflictError) return { state: 'failed', error: `the repository is locked: ${err.message}` };
      throw err;
    } finally {
      for (const stage of stages) await fs.rm(stage, { recursive: true, force: true }).catch(() => {});
    }
  };
}

/**
 * Whether a restore asked `exact` may delete what the backup lacks: only when the backup holds
 * every part of its instance as Coffer read it. A partial or uploaded backup lacks things by design
 * (or by its uploader's choice), so it is restored `merge`, and `notes` says so.
 */
function exactAllowed(b: Backup, payload: RestorePayload, notes: string[]): boolean {
  if (payload.mode !== 'exact' || payload.paths?.length) return false;
  if (isWholeBackup(b)) return true;
  const what = isUploaded(b) ? 'an uploaded backup' : b.includeFiles ? 'a partial backup' : 'a backup without files';
  notes.push(`backup ${b.id} is ${what}: restored merge (what it lacks was kept), not exact`);
  return false;
}

/**
 * The parts to restore and where each goes: the target's part of the same name; into its own
 * instance, a part it no longer has (a factory reset dropped it) goes back where Coffer read it,
 * but never where an uploaded file claims it was read: that path is the uploader's word.
 */
export function planRestore(b: Backup, source: Instance, target: Instance, paths: readonly string[] | undefined, ownParts: OwnParts | undefined): { plan: Step[]; warnings: string[] } {
  const targetParts = new Map(partsOf(target.parts).map((p) => [p.name, p]));
  const warnings: string[] = [];
  const plan: Step[] = [];
  for (const { name, from } of backedUpParts(b, source, ownParts)) {
    const to = targetParts.get(name)?.path ?? (target.id === source.id && !isUploaded(b) ? from : undefined);
    if (!to) {
      const why = target.id === source.id ? '; an uploaded backup\'s own paths are never restore destinations' : '';
      warnings.push(`instance ${target.name} has no part named ${name}${why}; skipped`);
      continue;
    }
    const wanted = paths?.length ? paths.filter((p) => p === from || p.startsWith(from.endsWith('/') ? from : `${from}/`)) : [from];
    if (wanted.length) plan.push({ name, from, to, include: wanted });
  }
  return { plan, warnings };
}

/**
 * Restores every step into a staging directory of its own (recorded in `stages`, in plan order,
 * as soon as it exists, so the caller removes it whatever happens). Nothing of a destination is
 * touched yet.
 */
async function stageAll(ctx: JobContext, repo: Repository, snapshot: Snapshot, plan: Step[], stages: string[], workers: number | undefined, warnings: string[]): Promise<{ errors: number }> {
  let errors = 0;
  const done = { files: 0, bytes: 0 };
  for (const step of plan) {
    const stage = await makeStaging(step.to, ctx.job.id);
    stages.push(stage);
    const base = { ...done };
    const r = await restore(repo, snapshot, {
      target: stage, include: step.include, signal: ctx.signal, ...(workers !== undefined ? { workers } : {}),
      onProgress: (p) => ctx.progress({ files_done: base.files + p.filesDone, bytes_done: base.bytes + p.bytesDone, files_total: base.files + p.filesTotal, bytes_total: base.bytes + p.bytesTotal, errors }),
      onWarning: (p, m) => {
        if (warnings.length < 20) warnings.push(`${p}: ${m}`);
      },
    });
    errors += r.errors;
    done.files += r.filesDone;
    done.bytes += r.bytesDone;
  }
  ctx.progress({ files_done: done.files, bytes_done: done.bytes, files_total: done.files, bytes_total: done.bytes, errors });
  return { errors };
}

/**
 * Moves one staged step into place. A whole part is merged onto the part's directory. A selected
 * path is put below the part's directory, its parents made one component at a time with `lstat`
 * (a link or file where the backup has a directory is replaced, never written through).
 */
async function putInPlace(step: Step, stage: string, how: 'paths' | 'merge' | 'exact', warnings: string[]): Promise<void> {
  if (how !== 'paths') {
    const staged = path.join(stage, step.from);
    if (await exists(staged)) await mergeTree(staged, step.to, how === 'exact');
    else warnings.push(`${step.from} is not in this backup`);
    return;
  }
  for (const p of step.include) {
    const staged = path.join(stage, p);
    if (!(await exists(staged))) {
      warnings.push(`${p} is not in this backup`);
      continue;
    }
    const rel = path.relative(step.from, p);
    // The part's own directory is trusted (an admin configured it), as the root of every path below it.
    await fs.mkdir(step.to, { recursive: true });
    if (rel === '') {
      await mergeTree(staged, step.to, false);
      continue;
    }
    const parent = path.dirname(rel) === '.' ? step.to : await ensureDirBeneath(step.to, path.dirname(rel), { obstacle: 'replace' });
    await mergeTree(staged, path.join(parent, path.basename(rel)), false);
  }
}

/**
 * After a crash: removes what an interrupted restore job staged. Its destinations are planned again
 * from the catalog, as the job planned them.
 */
export async function removeOrphanedStaging(catalog: Catalog, job: Job, ownParts: OwnParts | undefined): Promise<number> {
  if (isDownloadRestore(job.payload as RestorePayload)) {
    const target = await catalog.instances.byId(job.instanceId);
    return removeStaging(job.id, target ? partsOf(target.parts).map((p) => p.path) : []);
  }
  const b = job.backupId !== null ? await catalog.backups.get(job.backupId) : undefined;
  const target = await catalog.instances.byId(job.instanceId);
  const source = b ? await catalog.instances.byId(b.instanceId) : undefined;
  if (!b || !target || !source) return 0;
  const { plan } = planRestore(b, source, target, (job.payload as RestorePayload).paths, ownParts);
  return removeStaging(job.id, plan.map((s) => s.to));
}

/**
 * The parts the backup holds, as the backup recorded them (name → path read), without the parts of ours that
 * `ownParts` puts back itself. The record, not the instance's parts today: those may have been renamed, moved or
 * dropped since. Backups from before the record existed fall back to the instance's current parts.
 */
function backedUpParts(b: Backup, source: Instance, ownParts: OwnParts | undefined): { name: string; from: string }[] {
  const recorded = b.extra?.['part_paths'];
  if (recorded && typeof recorded === 'object' && !Array.isArray(recorded)) {
    return Object.entries(recorded as Record<string, unknown>)
      .filter((e): e is [string, string] => typeof e[1] === 'string' && !(ownParts?.owns(b, e[0]) ?? false))
      .map(([name, from]) => ({ name, from }));
  }
  return selectedPaths(source, b).parts.map((p) => ({ name: p.name, from: p.path }));
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}
