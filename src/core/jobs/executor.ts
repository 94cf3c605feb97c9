import type { BackupPatch, Job, JobProgress, JobState } from '../../catalog/index.js';

/** What a running job may do besides its work: report progress and learn that it should stop. */
export interface JobContext {
  job: Job;
  signal: AbortSignal;
  progress(p: JobProgress): void;
  log(message: string): void;
}

export interface JobOutcome {
  state: JobState;
  error?: string | null;
  /**
   * The end of the job's backup record (a backup job's result), written in the same transaction
   * as the job's end: no reader ever sees a finished backup whose job still runs (a delete in
   * that gap would be refused as "in use").
   */
  backup?: BackupPatch;
  /**
   * The attempt ended without a result for a reason that may pass (the repository stayed locked):
   * the runner queues the job again while attempts remain, and records `state` only after the last.
   */
  retryable?: boolean;
}

export type Executor = (ctx: JobContext) => Promise<JobOutcome>;

/** Turns engine progress into the job's progress fields, with rate and ETA from the job's start. */
export function withRate(p: JobProgress, startedMs: number, now = Date.now()): JobProgress {
  const secs = Math.max(0.001, (now - startedMs) / 1000);
  const rate = Math.round(p.bytes_done / secs);
  const out: JobProgress = { ...p, rate };
  if (p.bytes_total !== undefined && rate > 0) out.eta_seconds = Math.max(0, Math.round((p.bytes_total - p.bytes_done) / rate));
  return out;
}
