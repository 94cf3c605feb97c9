/**
 * The status of the latest restore of an instance (Riverbed's `restore_status`): its latest
 * restore job, or for the built-in instance `device` a factory reset of Coffer's configuration
 * when that came later (a reset puts the server back to a state, as a restore does). Derived from
 * the catalog on every call: the jobs table and the `factory_reset_at` setting are the record.
 */
import type { Catalog, Job, JobState } from '../catalog/index.js';
import { FACTORY_RESET_SETTING } from './configuration/index.js';
import { notFound } from './errors.js';
import { BUILTIN_INSTANCE } from './instances.js';
import { type Actor, requirePermission } from './permissions.js';

export interface RestoreStatus {
  /** What the status is about: a restore job, a factory reset, or nothing yet. */
  source: 'restore' | 'factory_reset' | 'none';
  /** When that restore was asked for, or the reset happened (ISO); null when nothing ever ran. */
  at: string | null;
  /** The restore job's state (a reset is `completed`); null when nothing ever ran. */
  state: JobState | null;
  /** What happened, for people. */
  message: string;
  /** The restore job and the backup it restores (source `restore` only). */
  jobId: number | null;
  backupId: number | null;
}

/** Sentences for a restore job's states (the backup states cannot occur for restores, but the Record wants every state). */
const MESSAGE: Record<JobState, (backup: string, error: string | null) => string> = {
  scheduled: (b) => `the restore of ${b} is queued`,
  running: (b) => `restoring ${b}`,
  uploading: (b) => `restoring ${b}`,
  completed: (b, e) => (e ? `${b} was restored: ${e}` : `${b} was restored`),
  completed_with_errors: (b, e) => `${b} was restored with errors: ${e ?? 'see the job'}`,
  failed: (b, e) => `the restore of ${b} failed: ${e ?? 'no reason recorded'}`,
  success: (b) => `${b} was restored`,
  error: (b, e) => `the restore of ${b} failed: ${e ?? 'no reason recorded'}`,
};

/** The status a restore job stands for (also right after it was enqueued). */
export function restoreStatusOfJob(job: Job): RestoreStatus {
  const backup = job.backupId !== null ? `backup ${job.backupId}` : 'a backup';
  return { source: 'restore', at: job.createdAt, state: job.state, message: MESSAGE[job.state](backup, job.error), jobId: job.id, backupId: job.backupId };
}

/** The status a factory reset stands for. */
export function restoreStatusOfReset(at: string, message: string): RestoreStatus {
  return { source: 'factory_reset', at, state: 'completed', message, jobId: null, backupId: null };
}

export class RestoreStatusService {
  constructor(private readonly catalog: Catalog) {}

  /** Permission restore.read. The latest restore of `instance` (default `device`); 404 for an unknown instance. */
  async latest(actor: Actor, instance: string = BUILTIN_INSTANCE): Promise<RestoreStatus> {
    requirePermission(actor, 'restore.read');
    const i = await this.catalog.instances.byName(instance);
    if (!i) throw notFound(`instance ${instance}`);
    const job = (await this.catalog.jobs.list({ kind: 'restore', instanceId: i.id, order: 'desc', limit: 1, offset: 0 })).items[0];
    const resetAt = instance === BUILTIN_INSTANCE ? await this.catalog.settings.get(FACTORY_RESET_SETTING) : undefined;
    const resetIsLater = resetAt !== undefined && !Number.isNaN(Date.parse(resetAt)) && (!job || Date.parse(resetAt) >= Date.parse(job.createdAt));
    if (resetIsLater) return restoreStatusOfReset(resetAt, 'Coffer\'s configuration was reset to its first-start state; no repository and no backup was deleted');
    if (job) return restoreStatusOfJob(job);
    return { source: 'none', at: null, state: null, message: 'no restore has been performed', jobId: null, backupId: null };
  }
}
