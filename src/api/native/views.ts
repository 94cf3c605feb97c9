/** Core's records as the native API shows them: snake_case, prefixed ids, native status words. */
import type { Static } from 'typebox';
import { type ChannelView, type EmailSettings, type NotificationDelivery, type ApiKey, type AuditEntry, type Backup, type InstanceView, type Job, type JobInfo, type JobProgress, type NewKey, type RepositoryView, type Schedule, type User, isUploaded } from '../../core/index.js';
import { formatId, formatOptionalId } from './ids.js';
import type * as S from './schemas.js';
import { BACKUP_STATUS_WORD, RESTORE_STATUS_WORD } from './words.js';

export function backupView(b: Backup): Static<typeof S.Backup> {
  return {
    id: formatId('backup', b.id), instance: b.instance, type: b.type, label: b.label, description: b.description,
    status: BACKUP_STATUS_WORD[b.status], status_info: b.statusInfo, created_at: b.createdAt, updated_at: b.updatedAt,
    backup_time: b.backupTime, size: b.size, bytes_added: b.bytesAdded, files: b.files, snapshot_id: b.snapshotId,
    parent_id: formatOptionalId('backup', b.parentId), hostname: b.hostname, model: b.model, serial: b.serial, sw_version: b.swVersion,
    include_files: b.includeFiles, include_database: b.includeDatabase, created_by: b.createdBy, schedule_id: formatOptionalId('schedule', b.scheduleId),
    uploaded: isUploaded(b),
  };
}

export function backupCreatedView(b: Backup, job: Job): Static<typeof S.BackupCreated> {
  return { backup_id: formatId('backup', b.id), job_id: formatId('job', job.id), ...backupView(b) };
}

export function progressView(p: JobProgress): Static<typeof S.Progress> {
  return {
    files_done: p.files_done, files_total: p.files_total ?? null, bytes_done: p.bytes_done, bytes_total: p.bytes_total ?? null,
    rate: p.rate ?? null, eta_seconds: p.eta_seconds ?? null, errors: p.errors ?? 0,
  };
}

export function restoreView(j: JobInfo): Static<typeof S.RestoreJob> {
  return {
    job_id: formatId('job', j.id), backup_id: formatOptionalId('backup', j.backupId), instance: j.instance, status: RESTORE_STATUS_WORD[j.state],
    progress: progressView(j.progress), error: j.error, created_at: j.createdAt, started_at: j.startedAt, finished_at: j.finishedAt,
  };
}

export function jobView(j: JobInfo): Static<typeof S.Job> {
  return {
    id: formatId('job', j.id), kind: j.kind, state: j.state, instance: j.instance, backup_id: formatOptionalId('backup', j.backupId),
    schedule_id: formatOptionalId('schedule', j.scheduleId), progress: progressView(j.progress), error: j.error, created_by: j.createdBy,
    created_at: j.createdAt, updated_at: j.updatedAt, started_at: j.startedAt, finished_at: j.finishedAt, cancel_requested: j.cancelRequested,
    attempts: j.attempts, attempt_errors: j.attemptErrors,
  };
}

export function scheduleView(s: Schedule): Static<typeof S.Schedule> {
  return {
    id: formatId('schedule', s.id), instance: s.instance, cron: s.cron, timezone: s.timezone, type: s.type, enabled: s.enabled,
    retention_days: s.retentionDays, keep_last: s.keepLast, keep_hourly: s.keepHourly, keep_daily: s.keepDaily, keep_weekly: s.keepWeekly,
    keep_monthly: s.keepMonthly, keep_yearly: s.keepYearly, retention_includes_uploaded: s.retentionIncludesUploaded, label: s.label, created_at: s.createdAt, updated_at: s.updatedAt,
    last_run_at: s.lastRunAt, next_run_at: s.nextRunAt, last_result: s.lastResult, ping_url_set: s.pingUrlSealed !== null, overdue_grace_seconds: s.overdueGraceSeconds,
  };
}

export function instanceView(i: InstanceView): Static<typeof S.Instance> {
  return {
    name: i.name, description: i.description, parts: i.parts.map((p) => ({ name: p.name, kind: p.kind, path: p.path, exclude: p.exclude, ...(p.include_coffer_data ? { include_coffer_data: true } : {}) })),
    repository: i.repository, created_at: i.created_at, updated_at: i.updated_at,
  };
}

/** Never the password hash. */
export function userView(u: User): Static<typeof S.User> {
  return { name: u.name, role: u.role, has_password: u.passwordHash !== null, created_at: u.createdAt };
}

export function keyView(k: ApiKey): Static<typeof S.ApiKey> {
  return { id: formatId('key', k.id), prefix: k.prefix, label: k.label, created_at: k.createdAt, last_used_at: k.lastUsedAt };
}

export function newKeyView(k: NewKey): Static<typeof S.NewApiKey> {
  return { id: formatId('key', k.id), key: k.key, prefix: k.prefix, label: k.label, created_at: k.createdAt };
}

export function repositoryView(r: RepositoryView): Static<typeof S.Repository> {
  return { id: r.id, name: r.name, location: r.location, option_keys: r.option_keys, created_at: r.created_at };
}

export function auditView(e: AuditEntry): Static<typeof S.AuditEntry> {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, detail: e.detail, ip: e.ip };
}

export function notificationView(c: ChannelView): Static<typeof S.NotificationChannel> {
  const e = c.kind === 'email' ? (c.settings as unknown as EmailSettings) : undefined;
  return {
    id: formatId('notification', c.id), name: c.name, kind: c.kind, events: c.events, instance: c.instance, enabled: c.enabled, url_set: c.urlSet,
    smtp_host: e?.host ?? null, smtp_port: e?.port ?? null, smtp_tls: e?.tls ?? null, smtp_user: e?.user ?? null, smtp_password_set: c.passwordSet,
    from: e?.from ?? null, to: e?.to ?? null, created_at: c.createdAt, updated_at: c.updatedAt,
  };
}

export function deliveryView(d: NotificationDelivery): Static<typeof S.NotificationDelivery> {
  const summary = d.message['summary'];
  return {
    id: formatId('delivery', d.id), notification_id: formatOptionalId('notification', d.channelId), schedule_id: formatOptionalId('schedule', d.scheduleId),
    event: d.event, summary: typeof summary === 'string' ? summary : d.event, status: d.status, attempts: d.attempts, next_attempt_at: d.nextAttemptAt,
    last_error: d.lastError, response_status: d.responseStatus, created_at: d.createdAt, updated_at: d.updatedAt, delivered_at: d.deliveredAt,
  };
}
