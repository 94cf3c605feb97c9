/** The catalog's domain records: what core sees (never a row type). */

export const ROLES = ['admin', 'backup_operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: number;
  name: string;
  role: Role;
  passwordHash: string | null;
  createdAt: string;
}

export interface ApiKey {
  id: number;
  userId: number;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface RepositoryRecord {
  id: number;
  name: string;
  location: string;
  passwordSealed: string;
  /** Backend options as sealed JSON (see core/repositories); null when the repository has none. */
  optionsSealed: string | null;
  createdAt: string;
}

/** One part of an instance, as stored; core validates the kinds it knows. */
export interface PartSpec {
  name: string;
  kind: string;
  [field: string]: unknown;
}

export interface Instance {
  id: number;
  name: string;
  description: string | null;
  parts: PartSpec[];
  repositoryId: number;
  createdAt: string;
  updatedAt: string;
}

export const BACKUP_STATUSES = ['scheduled', 'running', 'uploading', 'success', 'error'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];
export const BACKUP_TYPES = ['full', 'incremental', 'differential'] as const;
export type BackupKind = (typeof BACKUP_TYPES)[number];
export type BackupScope = 'full' | 'partial';

export interface Backup {
  id: number;
  instanceId: number;
  instance: string;
  repositoryId: number;
  scope: BackupScope;
  type: BackupKind;
  label: string | null;
  description: string | null;
  status: BackupStatus;
  statusInfo: string | null;
  createdAt: string;
  updatedAt: string;
  backupTime: string | null;
  size: number;
  bytesAdded: number;
  files: number;
  snapshotId: string | null;
  parentId: number | null;
  hostname: string;
  model: string;
  serial: string;
  swVersion: string;
  queryArgs: Record<string, string[] | null> | null;
  includeFiles: boolean;
  includeDatabase: boolean;
  createdBy: string | null;
  scheduleId: number | null;
  extra: Record<string, unknown> | null;
}

export const JOB_KINDS = ['backup', 'restore', 'retention'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
/** Backup jobs use the backup states, restore jobs the restore states; retention uses scheduled/running/success/error. */
export const JOB_STATES = ['scheduled', 'running', 'uploading', 'success', 'error', 'completed', 'completed_with_errors', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const ACTIVE_JOB_STATES: readonly JobState[] = ['scheduled', 'running', 'uploading'];
export function isTerminal(s: JobState): boolean {
  return !ACTIVE_JOB_STATES.includes(s);
}

export interface JobProgress {
  files_done: number;
  bytes_done: number;
  files_total?: number;
  bytes_total?: number;
  /** Bytes per second over the job's running time. */
  rate?: number;
  eta_seconds?: number;
  errors?: number;
  current?: string;
}

export interface Job {
  id: number;
  kind: JobKind;
  state: JobState;
  instanceId: number;
  backupId: number | null;
  scheduleId: number | null;
  payload: Record<string, unknown>;
  progress: JobProgress;
  error: string | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  worker: string | null;
  heartbeatAt: string | null;
  cancelRequested: boolean;
  /** Times a worker claimed the job (a backup is retried after its worker died or its repository stayed locked). */
  attempts: number;
  /** Why earlier attempts ended without a result, oldest first. */
  attemptErrors: string[];
}

export interface Schedule {
  id: number;
  instanceId: number;
  instance: string;
  cron: string;
  timezone: string | null;
  type: BackupKind;
  enabled: boolean;
  retentionDays: number | null;
  keepLast: number | null;
  keepHourly: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
  keepYearly: number | null;
  /** Retention counts (and forgets) uploaded backups too; by default it leaves them alone. */
  retentionIncludesUploaded: boolean;
  label: string | null;
  createdAt: string;
  updatedAt: string;
  lastRunAt: string | null;
  nextRunAt: string | null;
  lastResult: string | null;
  /** Its Healthchecks-style ping URL, sealed (core opens it); null: none. */
  pingUrlSealed: string | null;
  /** Seconds after its expected time by which a run must have succeeded; null: the server's default. */
  overdueGraceSeconds: number | null;
  /** The expected run last reported overdue. */
  overdueReportedFor: string | null;
}

export const NOTIFICATION_KINDS = ['webhook', 'slack', 'discord', 'email'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const NOTIFICATION_EVENTS = ['job.failed', 'job.succeeded', 'schedule.overdue'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What a notification channel is, apart from its identity and its secrets. */
export interface NotificationChannelFields {
  name: string;
  kind: NotificationKind;
  events: NotificationEvent[];
  /** Only events of this instance; null: all. */
  instance: string | null;
  enabled: boolean;
  /** The settings that are no secret (per kind; core checks them): an SMTP host, port, TLS mode, user, sender, recipients. */
  settings: Record<string, unknown>;
}

export interface NotificationChannel extends NotificationChannelFields {
  id: number;
  /** Its secrets as sealed JSON; null: none. */
  secretSealed: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NotificationDelivery {
  id: number;
  channelId: number | null;
  scheduleId: number | null;
  /** A notification event, `test`, or a ping (`ping.start`, `ping.success`, `ping.fail`). */
  event: string;
  message: Record<string, unknown>;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  responseStatus: number | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export function nowIso(): string {
  return new Date().toISOString();
}
