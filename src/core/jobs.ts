/** Jobs as users see them: status, progress, cancellation, and a stream of updates. */
import { type Catalog, type Job, type JobKind, type JobState, type Page, isTerminal } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { conflict, notFound } from './errors.js';
import type { JobEvents } from './jobs/events.js';
import { FAILED_STATE, type JobRunner } from './jobs/runner.js';
import { type Actor, requirePermission } from './permissions.js';

/** A job with the name of the instance it acts on (a restore's target), as every surface shows it. */
export type JobInfo = Job & { instance: string };

export class JobService {
  constructor(
    private readonly catalog: Catalog,
    private readonly events: JobEvents,
    private readonly runner: () => JobRunner | undefined,
    private readonly audit: AuditLog,
  ) {}

  async get(actor: Actor, id: number, kind?: JobKind): Promise<JobInfo> {
    requirePermission(actor, kind === 'restore' ? 'restore.read' : 'job.read');
    const j = await this.catalog.jobs.get(id);
    if (!j || (kind && j.kind !== kind)) throw notFound(kind ? `${kind} job ${id}` : `job ${id}`);
    return (await this.named([j]))[0]!;
  }

  /** A page of jobs, newest first unless `order` says otherwise; `instance` (a restore's target) by name, `idAbove`/`idBelow` for keyset paging. */
  async list(actor: Actor, f: { kind?: JobKind; state?: JobState; instance?: string; idAbove?: number; idBelow?: number; order?: 'asc' | 'desc'; limit: number; offset: number }): Promise<Page<JobInfo>> {
    requirePermission(actor, f.kind === 'restore' ? 'restore.read' : 'job.read');
    const { instance, ...filter } = f;
    let instanceId: number | undefined;
    if (instance !== undefined) {
      const i = await this.catalog.instances.byName(instance);
      if (!i) throw notFound(`instance ${instance}`);
      instanceId = i.id;
    }
    const page = await this.catalog.jobs.list({ ...filter, ...(instanceId !== undefined ? { instanceId } : {}) });
    return { total: page.total, items: await this.named(page.items) };
  }

  /** Instances are few, so one listing names a whole page of jobs. */
  private async named(jobs: Job[]): Promise<JobInfo[]> {
    if (jobs.length === 0) return [];
    const names = new Map((await this.catalog.instances.list()).map((i) => [i.id, i.name]));
    return jobs.map((j) => ({ ...j, instance: names.get(j.instanceId) ?? String(j.instanceId) }));
  }

  async cancel(actor: Actor, id: number): Promise<JobInfo> {
    const j = await this.catalog.jobs.get(id);
    if (!j) throw notFound(`job ${id}`);
    requirePermission(actor, j.kind === 'restore' ? 'restore.create' : 'job.cancel');
    if (isTerminal(j.state)) throw conflict(`job ${id} has already ended (${j.state})`);
    const after = await this.catalog.jobs.requestCancel(id, FAILED_STATE[j.kind]);
    if (after && j.kind === 'backup' && after.state === 'error' && j.backupId) {
      await this.catalog.backups.update(j.backupId, { status: 'error', statusInfo: 'canceled before it started' });
    }
    this.runner()?.cancelLocal(id);
    await this.audit.record(actor, 'job.cancel', `job:${id}`, { kind: j.kind });
    if (after) this.events.publish(after);
    return (await this.named([after ?? j]))[0]!;
  }

  /**
   * Calls `fn` with every update of a job until it ends (the last call carries the final state):
   * at once from this process's bus, and by polling the catalog for jobs that run elsewhere.
   * Returns a function that stops following.
   */
  follow(id: number, fn: (job: Job) => void, pollMs = 1000): () => void {
    let stopped = false;
    let lastSeen = '';
    const deliver = (job: Job) => {
      if (stopped) return;
      const key = `${job.state}|${job.updatedAt}|${JSON.stringify(job.progress)}`;
      if (key === lastSeen) return;
      lastSeen = key;
      fn(job);
      if (isTerminal(job.state)) stop();
    };
    const unsubscribe = this.events.subscribe(id, deliver);
    const timer = setInterval(() => {
      // Progress of jobs running in other processes (and the end of any job) arrives this way.
      void this.catalog.jobs.get(id).then((j) => j && deliver(j), () => {});
    }, pollMs);
    const stop = () => {
      stopped = true;
      unsubscribe();
      clearInterval(timer);
    };
    return stop;
  }
}
