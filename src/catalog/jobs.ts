import { type Kysely, type Selectable, sql } from 'kysely';
import type { CatalogCapabilities } from './dialects/opened.js';
import { rethrowUnique } from './errors.js';
import { parseJson } from './json.js';
import type { Database, JobsTable } from './schema.js';
import { ACTIVE_JOB_STATES, type Job, type JobKind, type JobProgress, type JobState, type Page, nowIso } from './types.js';

function toJob(r: Selectable<JobsTable>): Job {
  return {
    id: r.id, kind: r.kind as JobKind, state: r.state as JobState, instanceId: r.instance_id, backupId: r.backup_id,
    scheduleId: r.schedule_id, payload: parseJson(r.payload, {}), progress: parseJson<JobProgress>(r.progress, { files_done: 0, bytes_done: 0 }),
    error: r.error, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at, startedAt: r.started_at,
    finishedAt: r.finished_at, worker: r.worker, heartbeatAt: r.heartbeat_at, cancelRequested: r.cancel_requested === 1,
    attempts: Number(r.attempts), attemptErrors: parseJson<string[]>(r.attempt_errors, []),
  };
}

export interface NewJob {
  kind: JobKind;
  instanceId: number;
  backupId: number | null;
  scheduleId: number | null;
  payload: Record<string, unknown>;
  createdBy: string | null;
}

export interface JobFilter {
  kind?: JobKind;
  state?: JobState;
  instanceId?: number;
  backupId?: number;
  /** Keyset paging by id (Syncano's last_pk): only ids above / below these. */
  idAbove?: number;
  idBelow?: number;
  limit: number;
  offset: number;
  /** By id; default newest first. */
  order?: 'asc' | 'desc';
}

/**
 * The persistent job queue. Jobs are claimed with one atomic UPDATE; on PostgreSQL the candidate row
 * is picked with `FOR UPDATE SKIP LOCKED`, so any number of worker processes share the queue.
 */
export class JobStore {
  constructor(private readonly db: Kysely<Database>, private readonly caps: CatalogCapabilities) {}

  /** Adds a job in state `scheduled`. A rule enforced by a unique index surfaces as UniqueViolation. */
  async enqueue(j: NewJob, tx: Kysely<Database> = this.db): Promise<Job> {
    const now = nowIso();
    const row = await rethrowUnique(tx.insertInto('jobs').values({
      kind: j.kind, state: 'scheduled', instance_id: j.instanceId, backup_id: j.backupId, schedule_id: j.scheduleId,
      payload: JSON.stringify(j.payload), progress: JSON.stringify({ files_done: 0, bytes_done: 0 }), error: null,
      created_by: j.createdBy, created_at: now, updated_at: now, started_at: null, finished_at: null, worker: null,
      heartbeat_at: null, cancel_requested: 0,
    }).returningAll().executeTakeFirstOrThrow());
    return toJob(row);
  }

  /** Takes the oldest queued job for this worker, or undefined when none waits. */
  async claim(worker: string): Promise<Job | undefined> {
    let pick = this.db.selectFrom('jobs').select('id').where('state', '=', 'scheduled').where('cancel_requested', '=', 0).orderBy('id').limit(1);
    if (this.caps.skipLocked) pick = pick.forUpdate().skipLocked();
    const now = nowIso();
    const row = await this.db.updateTable('jobs')
      .set({ state: 'running', worker, started_at: now, heartbeat_at: now, updated_at: now, attempts: sql<number>`attempts + 1` })
      .where('id', '=', (eb) => eb.selectFrom(pick.as('next')).select('next.id'))
      .where('state', '=', 'scheduled')
      .returningAll().executeTakeFirst();
    return row && toJob(row);
  }

  async get(id: number): Promise<Job | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toJob(r);
  }

  async forBackup(backupId: number): Promise<Job | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('backup_id', '=', backupId).where('kind', '=', 'backup').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r && toJob(r);
  }

  async list(f: JobFilter): Promise<Page<Job>> {
    let q = this.db.selectFrom('jobs');
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.instanceId !== undefined) q = q.where('instance_id', '=', f.instanceId);
    if (f.backupId !== undefined) q = q.where('backup_id', '=', f.backupId);
    if (f.idAbove !== undefined) q = q.where('id', '>', f.idAbove);
    if (f.idBelow !== undefined) q = q.where('id', '<', f.idBelow);
    const total = Number((await q.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const rows = await q.selectAll().orderBy('id', f.order ?? 'desc').limit(f.limit).offset(f.offset).execute();
    return { total, items: rows.map(toJob) };
  }

  async active(f: { instanceId?: number; kind?: JobKind; backupId?: number }, tx: Kysely<Database> = this.db): Promise<Job[]> {
    let q = tx.selectFrom('jobs').selectAll().where('state', 'in', [...ACTIVE_JOB_STATES]);
    if (f.instanceId !== undefined) q = q.where('instance_id', '=', f.instanceId);
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.backupId !== undefined) q = q.where('backup_id', '=', f.backupId);
    return (await q.orderBy('id').execute()).map(toJob);
  }

  async setState(id: number, state: JobState, error: string | null = null, tx: Kysely<Database> = this.db): Promise<void> {
    const now = nowIso();
    const terminal = !ACTIVE_JOB_STATES.includes(state);
    await tx.updateTable('jobs').set({ state, error, updated_at: now, ...(terminal ? { finished_at: now } : {}) }).where('id', '=', id).execute();
  }

  /**
   * Queues a claimed job again for another attempt, recording why the last one ended. Only while
   * `worker` still holds it: of two processes recovering the same orphan, one requeues it, and a
   * job some worker has claimed since is left alone. True when this call requeued it.
   */
  async requeue(id: number, worker: string | null, attemptErrors: string[], tx: Kysely<Database> = this.db): Promise<boolean> {
    const now = nowIso();
    let q = tx.updateTable('jobs')
      .set({ state: 'scheduled', worker: null, heartbeat_at: null, error: null, updated_at: now, attempt_errors: JSON.stringify(attemptErrors), progress: JSON.stringify({ files_done: 0, bytes_done: 0 }) })
      .where('id', '=', id).where('state', 'in', ['running', 'uploading']).where('cancel_requested', '=', 0);
    q = worker === null ? q.where('worker', 'is', null) : q.where('worker', '=', worker);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Records why the job's attempts ended (with its last one, when it ends for good). */
  async setAttemptErrors(id: number, attemptErrors: string[], tx: Kysely<Database> = this.db): Promise<void> {
    await tx.updateTable('jobs').set({ attempt_errors: JSON.stringify(attemptErrors), updated_at: nowIso() }).where('id', '=', id).execute();
  }

  async setProgress(id: number, p: JobProgress, tx: Kysely<Database> = this.db): Promise<void> {
    const now = nowIso();
    await tx.updateTable('jobs').set({ progress: JSON.stringify(p), updated_at: now, heartbeat_at: now }).where('id', '=', id).execute();
  }

  async heartbeat(worker: string): Promise<void> {
    await this.db.updateTable('jobs').set({ heartbeat_at: nowIso() }).where('worker', '=', worker).where('state', 'in', ['running', 'uploading']).execute();
  }

  /** Marks the job for cancellation; a still-queued job is ended here and returned as such. */
  async requestCancel(id: number, canceledState: JobState): Promise<Job | undefined> {
    const now = nowIso();
    await this.db.updateTable('jobs').set({ state: canceledState, error: 'canceled before it started', finished_at: now, updated_at: now, cancel_requested: 1 })
      .where('id', '=', id).where('state', '=', 'scheduled').execute();
    await this.db.updateTable('jobs').set({ cancel_requested: 1, updated_at: now }).where('id', '=', id).where('state', 'in', ['running', 'uploading']).execute();
    return this.get(id);
  }

  async cancelRequested(id: number): Promise<boolean> {
    const r = await this.db.selectFrom('jobs').select('cancel_requested').where('id', '=', id).executeTakeFirst();
    return r?.cancel_requested === 1;
  }

  /** Every job some process has claimed and not ended: the runner judges which of them are orphans. */
  async claimedAndRunning(): Promise<Job[]> {
    return (await this.db.selectFrom('jobs').selectAll().where('state', 'in', ['running', 'uploading']).execute()).map(toJob);
  }

  async countByState(): Promise<{ kind: JobKind; state: JobState; n: number }[]> {
    const rows = await this.db.selectFrom('jobs').select(['kind', 'state', sql<number>`count(*)`.as('n')]).groupBy(['kind', 'state']).execute();
    return rows.map((r) => ({ kind: r.kind as JobKind, state: r.state as JobState, n: Number(r.n) }));
  }

  async durations(limit = 1000): Promise<{ kind: JobKind; state: JobState; seconds: number }[]> {
    const rows = await this.db.selectFrom('jobs').select(['kind', 'state', 'started_at', 'finished_at'])
      .where('finished_at', 'is not', null).where('started_at', 'is not', null).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ kind: r.kind as JobKind, state: r.state as JobState, seconds: (Date.parse(r.finished_at!) - Date.parse(r.started_at!)) / 1000 }));
  }
}
