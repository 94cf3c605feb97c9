/** Runs a restore job: a backup's parts, whole or selected paths, into its own instance or another one. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Backup, Catalog, Instance } from '../../catalog/index.js';
import { CancelledError, restore } from '../../repo/index.js';
import type { OwnParts } from '../configuration/index.js';
import { partsOf } from '../parts.js';
import type { RepositoryService } from '../repositories.js';
import { selectedPaths } from './backup-executor.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { mergeTree } from './tree-merge.js';

export interface RestorePayload {
  /** Absolute paths as they were backed up; empty for everything. */
  paths?: string[];
  /** `exact` makes each part equal to the backup (deleting what it lacks); `merge` only writes what the backup holds. */
  mode?: 'merge' | 'exact';
}

export function restoreExecutor(catalog: Catalog, repos: RepositoryService, workers: number | undefined, ownParts?: OwnParts): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const payload = ctx.job.payload as RestorePayload;
    const b = await catalog.backups.get(ctx.job.backupId!);
    if (!b?.snapshotId) return { state: 'failed', error: 'the backup no longer exists' };
    const source = await catalog.instances.byId(b.instanceId);
    const target = await catalog.instances.byId(ctx.job.instanceId);
    if (!source || !target) return { state: 'failed', error: 'the instance no longer exists' };
    const targetParts = new Map(partsOf(target.parts).map((p) => [p.name, p]));
    const warnings: string[] = [];
    const notices: string[] = [];
    const plan: { name: string; from: string; to: string; include: string[] }[] = [];
    for (const { name, from } of backedUpParts(b, source, ownParts)) {
      // Into its own instance, a part the instance no longer has (a factory reset dropped it) goes back where it was read from.
      const to = targetParts.get(name)?.path ?? (target.id === source.id ? from : undefined);
      if (!to) {
        warnings.push(`instance ${target.name} has no part named ${name}; skipped`);
        continue;
      }
      const wanted = payload.paths?.length ? payload.paths.filter((p) => p === from || p.startsWith(from.endsWith('/') ? from : `${from}/`)) : [from];
      if (wanted.length) plan.push({ name, from, to, include: wanted });
    }
    // Parts the instance has without naming them (device: Coffer's own configuration) are put back after the files.
    const own = ownParts?.restores(b, target, payload.paths) === true;
    if (plan.length === 0 && !own) return { state: 'failed', error: warnings[0] ?? 'none of the requested paths is in this backup' };

    const repo = await repos.open(b.repositoryId);
    await repo.loadIndex();
    const snapshot = await repo.loadSnapshot(b.snapshotId);
    let errors = 0;
    let filesDone = 0;
    let bytesDone = 0;
    for (const step of plan) {
      // Staged beside the target, so that moving into place is a rename on the same file system.
      const stage = path.join(path.dirname(step.to), `.coffer-restore-${ctx.job.id}-${step.name}`);
      await fs.rm(stage, { recursive: true, force: true });
      await fs.mkdir(stage, { recursive: true, mode: 0o700 });
      try {
        const base = { files: filesDone, bytes: bytesDone };
        const r = await restore(repo, snapshot, {
          target: stage, include: step.include, signal: ctx.signal, ...(workers !== undefined ? { workers } : {}),
          onProgress: (p) => ctx.progress({ files_done: base.files + p.filesDone, bytes_done: base.bytes + p.bytesDone, files_total: base.files + p.filesTotal, bytes_total: base.bytes + p.bytesTotal, errors }),
          onWarning: (p, m) => {
            if (warnings.length < 20) warnings.push(`${p}: ${m}`);
          },
        });
        errors += r.errors;
        filesDone += r.filesDone;
        bytesDone += r.bytesDone;
        if (payload.paths?.length) {
          for (const p of step.include) {
            const staged = path.join(stage, p);
            if (await exists(staged)) await mergeTree(staged, path.join(step.to, path.relative(step.from, p)), false);
            else warnings.push(`${p} is not in this backup`);
          }
        } else {
          const staged = path.join(stage, step.from);
          if (await exists(staged)) await mergeTree(staged, step.to, payload.mode === 'exact');
          else warnings.push(`${step.from} is not in this backup`);
        }
      } catch (err) {
        if (err instanceof CancelledError || ctx.signal.aborted) {
          const r: unknown = ctx.signal.reason;
          return { state: 'failed', error: r instanceof Error ? r.message : 'canceled' };
        }
        throw err;
      } finally {
        await fs.rm(stage, { recursive: true, force: true }).catch(() => {});
      }
    }
    if (own) {
      const warning = await ownParts!.restore({ job: ctx.job, backup: b, target, repo, snapshot, signal: ctx.signal, notice: (m) => notices.push(m) });
      if (warning) warnings.unshift(warning);
    }
    ctx.progress({ files_done: filesDone, bytes_done: bytesDone, files_total: filesDone, bytes_total: bytesDone, errors });
    if (errors > 0 || warnings.length > 0) return { state: 'completed_with_errors', error: [...warnings.slice(0, 5), ...notices].join('; ') || `${errors} errors` };
    return { state: 'completed', error: notices.length ? notices.join('; ') : null };
  };
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
