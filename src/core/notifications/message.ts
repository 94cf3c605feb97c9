/**
 * What a notification says: one plain JSON object per event (the generic webhook's body, documented
 * in docs/notifications.md), and the text every other channel renders from it. It names what
 * happened, where, why and when, with the ids to look it up by; it never holds a secret.
 */
import type { Job, NotificationEvent, Schedule } from '../../catalog/index.js';

export interface NotificationMessage {
  /** A notification event, or `test`. */
  event: NotificationEvent | 'test';
  /** One line for people: what happened where. */
  summary: string;
  /** The server's host name, as backups record it. */
  server: string;
  /** When it happened (a job's end, an overdue run's deadline). */
  at: string;
  instance: string | null;
  job: { id: string; kind: string; state: string; error: string | null; attempts: number; started_at: string | null; finished_at: string | null } | null;
  backup_id: string | null;
  schedule_id: string | null;
  /** For `schedule.overdue`: the run that did not happen or did not succeed in time. */
  overdue: { expected_at: string; grace_seconds: number; last_result: string | null } | null;
}

/** Job states that count as a failure (a restore that completed with errors did not restore everything). */
const FAILED_STATES = new Set(['error', 'failed', 'completed_with_errors']);
const SUCCEEDED_STATES = new Set(['success', 'completed']);

/** The event a job's final state raises. */
export function eventOfJob(job: Job): NotificationEvent | undefined {
  if (FAILED_STATES.has(job.state)) return 'job.failed';
  if (SUCCEEDED_STATES.has(job.state)) return 'job.succeeded';
  return undefined;
}

const optionalId = (kind: string, n: number | null) => (n === null ? null : `${kind}-${n}`);

export function jobMessage(event: NotificationEvent, job: Job, instance: string, server: string): NotificationMessage {
  const outcome = event === 'job.failed' ? `failed (${job.state})` : 'succeeded';
  const why = event === 'job.failed' && job.error ? `: ${job.error}` : '';
  return {
    event, summary: `Coffer on ${server}: ${job.kind} job-${job.id} of instance ${instance} ${outcome}${why}`, server, at: job.finishedAt ?? job.updatedAt, instance,
    job: { id: `job-${job.id}`, kind: job.kind, state: job.state, error: job.error, attempts: job.attempts, started_at: job.startedAt, finished_at: job.finishedAt },
    backup_id: optionalId('backup', job.backupId), schedule_id: optionalId('schedule', job.scheduleId), overdue: null,
  };
}

export function overdueMessage(s: Schedule, expectedAt: string, graceSeconds: number, server: string): NotificationMessage {
  return {
    event: 'schedule.overdue', server, at: new Date(Date.parse(expectedAt) + graceSeconds * 1000).toISOString(), instance: s.instance,
    summary: `Coffer on ${server}: schedule-${s.id} (${s.cron}) of instance ${s.instance} is overdue: the run due at ${expectedAt} did not succeed within ${graceSeconds} s`,
    job: null, backup_id: null, schedule_id: `schedule-${s.id}`, overdue: { expected_at: expectedAt, grace_seconds: graceSeconds, last_result: s.lastResult },
  };
}

export function testMessage(channel: string, server: string, at: string): NotificationMessage {
  return {
    event: 'test', summary: `Coffer on ${server}: test message of notification channel ${channel}`, server, at, instance: null,
    job: null, backup_id: null, schedule_id: null, overdue: null,
  };
}

/** The message as lines of text (chat messages, email bodies, ping logs): the summary first. */
export function textOf(m: NotificationMessage): string {
  const lines = [m.summary, '', `Event: ${m.event}`, `Server: ${m.server}`, `At: ${m.at}`];
  if (m.instance !== null) lines.push(`Instance: ${m.instance}`);
  if (m.job) {
    lines.push(`Job: ${m.job.id} (${m.job.kind}, ${m.job.state}, attempt ${m.job.attempts})`);
    if (m.job.error) lines.push(`Error: ${m.job.error}`);
  }
  if (m.backup_id) lines.push(`Backup: ${m.backup_id}`);
  if (m.schedule_id) lines.push(`Schedule: ${m.schedule_id}`);
  if (m.overdue) lines.push(`Expected at: ${m.overdue.expected_at} (grace ${m.overdue.grace_seconds} s)`, `Last result: ${m.overdue.last_result ?? 'none'}`);
  return lines.join('\n');
}
