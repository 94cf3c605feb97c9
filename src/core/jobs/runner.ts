/**
 * The in-process worker pool: claims jobs from the catalog's queue, runs each with its executor,
 * records progress (at most once a second) and the outcome, and keeps a heartbeat so that another
 * process sharing a PostgreSQL catalog can tell a live job from an orphan.
 */
import { SerialPass } from '../serial-pass.js';
import { hostname } from 'node:os';
import { type Catalog, type Job, type JobKind, type JobProgress, type JobState } from '../../catalog/index.js';
import type { JobEvents } from './events.js';
import { type Executor, type JobOutcome, withRate } from './executor.js';

const HEARTBEAT_MS = 5_000;
/** A job whose heartbeat is older than this in a shared catalog is an orphan. */
export const ORPHAN_AFTER_MS = 60_000;
const POLL_MS = 1_000;
const PROGRESS_WRITE_MS = 1_000;

export interface RunnerOptions {
  concurrency: number;
  log: (msg: string, err?: unknown) => void;
  /** Called after a job ended, whatever the outcome (retention chaining, metrics). */
  onFinished?: (job: Job) => Promise<void> | void;
  /** Called for jobs ended as orphans, so their backups get the same reason (not for those queued again). */
  onOrphan: (job: Job, reason: string) => Promise<void>;
  /** Attempts per backup job; default MAX_ATTEMPTS. */
  maxAttempts?: number;
}

type Requeue = 'requeued' | 'no-attempts-left' | 'taken';

/** Attempts a backup job gets: a dead worker or a repository locked too long costs one each. */
export const MAX_ATTEMPTS = 3;

/** The state a canceled or interrupted job ends in, per kind. */
export const FAILED_STATE: Record<JobKind, JobState> = { backup: 'error', restore: 'failed', retention: 'error' };

export class JobRunner {
  readonly worker = `${hostname()}:${process.pid}:${Date.now().toString(36)}`;
  private readonly running = new Map<number, AbortController>();
  private readonly finished = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly passes = new SerialPass(() => this.pump(), (err: unknown) => this.opts.log('looking for jobs failed', err));

  constructor(
    private readonly catalog: Catalog,
    private readonly events: JobEvents,
    private readonly executors: Record<JobKind, Executor>,
    private readonly opts: RunnerOptions,
  ) {}

  async start(): Promise<void> {
    await this.recoverOrphans('interrupted: the server stopped while this job ran');
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    this.heartbeat.unref();
    this.wake();
  }

  /**
   * Deals with jobs whose process is gone (all running ones with a catalog of our own; stale
   * heartbeats with a shared one): a backup with attempts left is queued again, anything else ends
   * failed with `reason`.
   */
  async recoverOrphans(reason: string): Promise<number> {
    const staleBefore = new Date(Date.now() - ORPHAN_AFTER_MS).toISOString();
    const shared = this.catalog.capabilities.sharedByProcesses;
    const orphans = (await this.catalog.jobs.claimedAndRunning()).filter((j) => !this.running.has(j.id) && (
      // With a catalog of our own, whatever ran before we started is an orphan.
      !shared || j.worker === null || isDeadLocalWorker(j.worker, this.worker) || j.heartbeatAt === null || j.heartbeatAt < staleBefore));
    let recovered = 0;
    for (const job of orphans) {
      const requeue = await this.requeue(job, job.worker, reason);
      if (requeue === 'requeued') {
        recovered++;
        continue;
      }
      // Another process requeued or ended it meanwhile: it is no longer ours to end.
      if (requeue === 'taken' && !(await this.stillHeldBy(job))) continue;
      await this.catalog.jobs.setState(job.id, FAILED_STATE[job.kind], reason);
      if (job.kind === 'backup') await this.catalog.jobs.setAttemptErrors(job.id, withAttemptError(job, reason));
      await this.opts.onOrphan(job, reason);
      const ended = await this.catalog.jobs.get(job.id);
      if (ended) this.events.publish(ended);
      recovered++;
    }
    if (recovered > 0) this.wake();
    return recovered;
  }

  /**
   * Queues a backup job again after an attempt that ended without a result, its backup record back
   * to `scheduled`. What a dead or locked-out attempt left needs no undoing: packs it uploaded are
   * valid (prune reclaims them if unused), and its snapshot, written last, is never there unless
   * its catalog record was too (see backupExecutor for the one gap).
   */
  private async requeue(job: Job, worker: string | null, reason: string): Promise<Requeue> {
    const max = this.opts.maxAttempts ?? MAX_ATTEMPTS;
    if (job.kind !== 'backup' || job.cancelRequested || job.attempts >= max) return 'no-attempts-left';
    const done = await this.catalog.transaction(async (tx) => {
      if (!(await this.catalog.jobs.requeue(job.id, worker, withAttemptError(job, reason), tx))) return false;
      if (job.backupId !== null) {
        await this.catalog.backups.update(job.backupId, { status: 'scheduled', statusInfo: `attempt ${job.attempts} of ${max} ended (${reason}); it will be retried` }, tx);
      }
      return true;
    });
    if (!done) return 'taken';
    const queued = await this.catalog.jobs.get(job.id);
    if (queued) this.events.publish(queued);
    return 'requeued';
  }

  private async stillHeldBy(job: Job): Promise<boolean> {
    const now = await this.catalog.jobs.get(job.id);
    return now !== undefined && (now.state === 'running' || now.state === 'uploading') && now.worker === job.worker;
  }

  /** Look for work now (after an enqueue in this process), instead of at the next poll. */
  wake(): void {
    this.passes.wake();
  }


  private async pump(): Promise<void> {
    while (!this.stopping && this.running.size < this.opts.concurrency) {
      let job: Job | undefined;
      try {
        job = await this.catalog.jobs.claim(this.worker);
      } catch (err) {
        this.opts.log('claiming a job failed', err);
        return;
      }
      if (!job) return;
      // Observed here: a job whose end could not even be recorded must not take the process with it.
      const claimed = job;
      const done = this.run(claimed).catch((err: unknown) => this.opts.log(`job ${claimed.id}: running it failed`, err));
      this.finished.add(done);
      void done.finally(() => {
        this.finished.delete(done);
        this.wake();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const abort = new AbortController();
    this.running.set(job.id, abort);
    const started = Date.now();
    let last: JobProgress = job.progress;
    let lastWrite = 0;
    let writing: Promise<void> = Promise.resolve();
    this.events.publish({ ...job });
    const progress = (p: JobProgress) => {
      last = withRate(p, started);
      this.events.publish({ ...job, state: job.state, progress: last });
      const now = Date.now();
      if (now - lastWrite >= PROGRESS_WRITE_MS) {
        lastWrite = now;
        const snapshot = last;
        writing = writing.then(() => this.catalog.jobs.setProgress(job.id, snapshot)).catch((err) => this.opts.log(`job ${job.id}: saving progress failed`, err));
      }
    };
    let outcome: JobOutcome;
    try {
      outcome = await this.executors[job.kind]({ job, signal: abort.signal, progress, log: (m) => this.opts.log(`job ${job.id}: ${m}`) });
    } catch (err) {
      outcome = { state: FAILED_STATE[job.kind], error: abort.signal.aborted ? reasonOf(abort.signal) : (err as Error).message ?? String(err) };
      if (!abort.signal.aborted) this.opts.log(`job ${job.id} failed`, err);
    }
    this.running.delete(job.id);
    await writing;
    if (outcome.retryable && !abort.signal.aborted) {
      try {
        if ((await this.requeue(job, this.worker, outcome.error ?? 'no result')) === 'requeued') return;
      } catch (err) {
        this.opts.log(`job ${job.id}: queueing it again failed`, err);
      }
    }
    // A backup job that threw leaves its record in error too, not "running" for ever.
    const backupEnd = outcome.backup ?? (job.kind === 'backup' && outcome.state === FAILED_STATE.backup ? { status: 'error' as const, statusInfo: outcome.error ?? null } : undefined);
    try {
      await this.catalog.transaction(async (tx) => {
        await this.catalog.jobs.setProgress(job.id, last, tx);
        await this.catalog.jobs.setState(job.id, outcome.state, outcome.error ?? null, tx);
        if (job.kind === 'backup' && outcome.state === FAILED_STATE.backup) await this.catalog.jobs.setAttemptErrors(job.id, withAttemptError(job, outcome.error ?? 'failed'), tx);
        if (backupEnd && job.backupId !== null) await this.catalog.backups.update(job.backupId, backupEnd, tx);
      });
    } catch (err) {
      this.opts.log(`job ${job.id}: recording its end failed`, err);
    }
    const ended = (await this.catalog.jobs.get(job.id).catch(() => undefined)) ?? { ...job, state: outcome.state, error: outcome.error ?? null };
    this.events.publish(ended);
    try {
      await this.opts.onFinished?.(ended);
    } catch (err) {
      this.opts.log(`job ${job.id}: after-job step failed`, err);
    }
  }

  /** Cancels a job running in this process (others see cancel_requested at their next heartbeat). */
  cancelLocal(jobId: number): boolean {
    const a = this.running.get(jobId);
    if (!a) return false;
    a.abort(new Error('canceled by request'));
    return true;
  }

  private async beat(): Promise<void> {
    if (this.running.size === 0 && !this.catalog.capabilities.sharedByProcesses) return;
    try {
      if (this.running.size > 0) {
        await this.catalog.jobs.heartbeat(this.worker);
        for (const id of this.running.keys()) if (await this.catalog.jobs.cancelRequested(id)) this.cancelLocal(id);
      }
      if (this.catalog.capabilities.sharedByProcesses) await this.recoverOrphans('interrupted: the worker running this job stopped answering');
    } catch (err) {
      this.opts.log('job heartbeat failed', err);
    }
  }

  /** Stops claiming, interrupts running jobs (they end as failed with the reason) and waits for them. */
  async stop(reason = 'interrupted: the server shut down while this job ran', timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    this.passes.stop();
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    for (const a of this.running.values()) a.abort(new Error(reason));
    const all = Promise.all([...this.finished]);
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  get activeCount(): number {
    return this.running.size;
  }
}

/** A worker id `host:pid:start` of this host whose process no longer exists: no need to wait for its heartbeat to go stale. */
function isDeadLocalWorker(worker: string, self: string): boolean {
  const [host, pidText] = worker.split(':');
  if (worker === self || host !== hostname() || !pidText) return false;
  const pid = Number(pidText);
  // Our own pid under another start time: an earlier life of this process id (PID 1 in a container).
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The job's attempt errors with the reason its current attempt ended. */
function withAttemptError(job: Job, reason: string): string[] {
  return [...job.attemptErrors, `attempt ${Math.max(1, job.attempts)}: ${reason}`];
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'canceled';
}
