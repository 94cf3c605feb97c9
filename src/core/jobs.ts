/** Jobs as users see them: status, progress, cancellation, and a stream of updates. */
import { type Catalog, type Job, type JobKind, type JobState, type Page, isTerminal } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { conflict, notFound } from './errors.js';
import type { JobEvents } from './jobs/events.js';
import { FAILED_STATE, type JobRunner } from './jobs/runner.js';
import { type Actor, requirePermission } from './permissions.js';

export class JobService {
  constructor(
    private readonly catalog: Catalog,
    private readonly events: JobEvents,
    private readonly runner: () => JobRunner | undefined,
    private readonly audit: AuditLog,
  ) {}

  async get(actor: Actor, id: number, kind?: JobKind): Promise<Job> {
    requirePermission(actor, kind === 'restore' ? 'restore.read' : 'job.read');
    const j = await this.catalog.jobs.get(id);
    if (!j || (kind && j.kind !== kind)) throw notFound(`${kind ?? 'job'} job ${id}`);
    return j;
  }

  async list(actor: Actor, f: { kind?: JobKind; state?: JobState; limit: number; offset: number }): Promise<Page<Job>> {
    requirePermission(actor, 'job.read');
    return this.catalog.jobs.list(f);
  }

  async cancel(actor: Actor, id: number): Promise<Job> {
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
    return after ?? j;
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
      void this.catalog.jobs.get(id).then((j) => j && isTerminal(j.state) && deliver(j), () => {});
    }, pollMs);
    const stop = () => {
      stopped = true;
      unsubscribe();
      clearInterval(timer);
    };
    return stop;
  }
}
