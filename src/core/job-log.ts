/**
 * The server log's account of jobs: one line when a job starts, one when an attempt ends and the
 * job is queued again, one when it ends, each with the job's ids, trigger, duration and counts.
 * It watches the job events of this process (the bus that also feeds event streams), so each line
 * is written by the process that ran the job; it never changes what it watches.
 */
import { type Catalog, type Job, type JobState, isTerminal } from '../catalog/index.js';
import type { JobEvents } from './jobs/events.js';
import type { Logger } from './logger.js';

/** How a job's end is logged: done is info, done with errors a warning, failed an error. */
const END_LEVEL: Record<JobState, 'info' | 'warn' | 'error'> = {
  scheduled: 'info', running: 'info', uploading: 'info',
  success: 'info', completed: 'info', completed_with_errors: 'warn', error: 'error', failed: 'error',
};

/** Jobs remembered after their end, so a repeated end event is not logged twice. */
const REMEMBERED = 1000;

type Phase = 'running' | 'queued' | 'ended';

/** Starts logging the jobs of `events`; `stop` ends it once the lines of events already seen are written. */
export function logJobs(events: JobEvents, catalog: Catalog, logger: Logger): { stop(): Promise<void> } {
  const phases = new Map<number, { phase: Phase; attempt: number; startedMs: number }>();
  // One line at a time, in the order of events, though each waits for an instance's name.
  let writing = Promise.resolve();

  const instanceName = async (id: number): Promise<string> => (await catalog.instances.byId(id).catch(() => undefined))?.name ?? String(id);

  const write = (job: Job, line: (fields: Record<string, unknown>) => void) => {
    writing = writing.then(async () => line(fieldsOf(job, await instanceName(job.instanceId))), () => {});
  };

  const remember = (id: number, phase: Phase, attempt: number, startedMs: number) => {
    phases.delete(id);
    phases.set(id, { phase, attempt, startedMs });
    if (phases.size > REMEMBERED) phases.delete(phases.keys().next().value!);
  };

  const seen = (job: Job) => {
    const before = phases.get(job.id);
    if (before?.phase === 'ended') return;
    if (isTerminal(job.state)) {
      const durationMs = before?.phase === 'running' ? Date.now() - before.startedMs : durationOf(job);
      remember(job.id, 'ended', job.attempts, 0);
      const level = END_LEVEL[job.state];
      const words = level === 'error' ? 'failed' : level === 'warn' ? 'ended with errors' : 'ended';
      write(job, (f) => logger[level]({ ...f, ...(durationMs !== undefined ? { duration_ms: durationMs } : {}) }, `${job.kind} job ${job.id} ${words}${job.error ? `: ${job.error}` : ''}`));
    } else if (job.state === 'scheduled') {
      // Queued again after an attempt (here, or as another process's orphan); a new job is not published.
      if (job.attempts === 0 || (before?.phase === 'queued' && before.attempt === job.attempts)) return;
      remember(job.id, 'queued', job.attempts, 0);
      const reason = job.attemptErrors.at(-1) ?? 'no result';
      write(job, (f) => logger.warn({ ...f, reason }, `${job.kind} job ${job.id}: ${reason}; queued again`));
    } else if (before?.phase !== 'running' || before.attempt !== job.attempts) {
      remember(job.id, 'running', job.attempts, Date.now());
      write(job, (f) => logger.info(f, `${job.kind} job ${job.id} started`));
    }
  };
  const unsubscribe = events.subscribe('*', seen);
  return {
    stop: async () => {
      unsubscribe();
      await writing;
    },
  };
}

/** The fields every job line carries; counts only where the job has made progress. */
function fieldsOf(job: Job, instance: string): Record<string, unknown> {
  const p = job.progress;
  return {
    job_id: job.id, kind: job.kind, state: job.state, instance, backup_id: job.backupId,
    trigger: job.scheduleId !== null ? 'schedule' : 'request', schedule_id: job.scheduleId, created_by: job.createdBy,
    attempt: job.attempts,
    ...(p.files_done || p.bytes_done ? { files: p.files_done, bytes: p.bytes_done } : {}),
    ...(p.errors ? { file_errors: p.errors } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** A job that ended without this process seeing it run (canceled while queued, an orphan): its recorded times. */
function durationOf(job: Job): number | undefined {
  if (!job.startedAt || !job.finishedAt) return undefined;
  return Math.max(0, Date.parse(job.finishedAt) - Date.parse(job.startedAt));
}
