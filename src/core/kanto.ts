/**
 * What an Eclipse Kanto operation means in Coffer, whatever carries it (the MQTT adapter today):
 * a directory is an instance (made on first use) with one directory part; a backup is a Coffer
 * backup of it labelled with the correlation id; a restore is a catalog `restore` job into it,
 * either of a Coffer backup or of a Kanto ZIP downloaded from a provider. Being jobs, both obey
 * the rules every surface does: one restore per instance (the catalog's unique index, across
 * processes), the audit log, progress over SSE, a record in /api/v1/jobs.
 *
 * Kanto answers a second operation with 409 while one runs. Here "runs" means the catalog has an
 * active job on the instance. Admissions of one process are taken one at a time per instance, so
 * the look and the insert cannot interleave inside it; between processes, two restores still
 * cannot both be admitted (the unique index), while a backup admitted in the instant another
 * process admits a restore would run beside it, as a native backup may.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { type Backup, type Catalog, type Instance, type Job, type JobKind, UniqueViolation } from '../catalog/index.js';
import { type TransferOptions, displayUrl, downloadSource } from '../transfer/index.js';
import type { AuditLog } from './audit.js';
import { isUploaded } from './backup-origin.js';
import type { BackupService, CatalogTx } from './backups.js';
import { CoreError } from './errors.js';
import type { InstanceService } from './instances.js';
import type { DownloadSource, RestorePayload } from './jobs/restore-executor.js';
import type { JobRunner } from './jobs/runner.js';
import { type Actor, requirePermission } from './permissions.js';
import type { ServerSecret } from './secrets.js';

/** The part every Kanto instance has: the directory. */
export const KANTO_PART = 'dir';
/** Coffer's labels are at most 64 characters; a longer correlation id is kept whole in `extra`. */
const LABEL_MAX = 64;

/** A Kanto operation refused because another job of the instance is active (Kanto's 409). */
export class InstanceBusyError extends CoreError {
  constructor(readonly busyWith: JobKind, instance: string, jobId: number | undefined) {
    super('conflict', `a ${busyWith} of instance ${instance} is already in progress${jobId !== undefined ? ` (job ${jobId})` : ''}`);
  }
}

/** A stable instance name per directory: readable prefix, a hash for uniqueness. */
export function kantoInstanceName(dir: string): string {
  const base = path.basename(dir).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32) || 'root';
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 10);
  return `kanto-${base}-${hash}`;
}

/**
 * The correlation id Coffer recorded when it made the backup for a Kanto command; null for any
 * other backup. Labels never count (anyone who may create or upload a backup chooses one), nor do
 * uploaded files, whose metadata is the uploader's word.
 */
export function kantoCorrelationOf(b: Backup): string | null {
  if (isUploaded(b)) return null;
  const c = b.extra?.['kanto_correlation_id'];
  return typeof c === 'string' ? c : null;
}

/** Where a Kanto restore reads from: a Coffer backup, or a Kanto ZIP at a provider. */
export type KantoRestoreSource =
  | { kind: 'backup'; backupId: number }
  | {
      kind: 'download';
      options: TransferOptions;
      /** The key or blob name when the options name none. */
      objectName?: string;
      allowPrivateAddresses: boolean;
      maxBytes: number;
    };

export class KantoService {
  /** Per instance name: the admission being made in this process (see the module comment). */
  private readonly admitting = new Map<string, Promise<unknown>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly backups: BackupService,
    private readonly instances: InstanceService,
    private readonly audit: AuditLog,
    private readonly secret: ServerSecret,
    private readonly runner: () => JobRunner | undefined,
  ) {}

  /** The directory's instance, made on first use. */
  async ensureInstance(actor: Actor, dir: string): Promise<Instance> {
    const name = kantoInstanceName(dir);
    const found = await this.catalog.instances.byName(name);
    if (found) return found;
    await this.instances.put(actor, name, { description: `Eclipse Kanto directory ${dir}`, parts: [{ name: KANTO_PART, kind: 'directory', path: dir }] }).catch((e: unknown) => {
      // Two commands at once may both have found it missing.
      if (!(e instanceof CoreError && e.code === 'conflict')) throw e;
    });
    return this.instances.require(name);
  }

  /** Starts a backup of the directory's instance, unless a job of it is active. */
  backup(actor: Actor, dir: string, correlationId: string): Promise<{ backup: Backup; job: Job; instance: string }> {
    requirePermission(actor, 'backup.create');
    return this.admit(dir, async () => {
      const instance = await this.ensureInstance(actor, dir);
      const { backup, job } = await this.backups.create(actor, {
        instance: instance.name, type: 'incremental', label: correlationId.slice(0, LABEL_MAX) || null,
        description: 'Eclipse Kanto backup over MQTT', extra: { kanto_correlation_id: correlationId },
      }, (tx) => this.refuseWhileBusy(instance, tx));
      await this.audit.record(actor, 'kanto.backup', `backup:${backup.id}`, { correlation_id: correlationId, dir, instance: instance.name, job_id: job.id });
      return { backup, job, instance: instance.name };
    });
  }

  /**
   * Queues a restore job into the directory's instance, unless a job of it is active. A download's
   * options (credentials, SAS tokens, signed URLs) are sealed with the server secret in the job's
   * payload, as repository options are: the worker that runs the job opens them, no reader of the
   * catalog or of /api/v1/jobs can.
   */
  restore(actor: Actor, dir: string, correlationId: string, source: KantoRestoreSource): Promise<Job & { instance: string }> {
    requirePermission(actor, 'restore.create');
    return this.admit(dir, async () => {
      const instance = await this.ensureInstance(actor, dir);
      const payload: RestorePayload = { mode: 'merge', kanto: { correlation_id: correlationId, dir } };
      let backupId: number | null = null;
      if (source.kind === 'backup') {
        const b = await this.catalog.backups.get(source.backupId);
        if (!b || b.status !== 'success' || !b.snapshotId) throw new CoreError('conflict', `backup ${source.backupId} cannot be restored (it is ${b?.status ?? 'gone'})`);
        backupId = b.id;
      } else {
        payload.source = this.sealedDownload(source);
      }
      let job: Job;
      try {
        // Checked and queued under the instance's row lock, as a backup is: two processes admitting
        // a backup and a restore of one directory at once cannot both pass the check.
        job = await this.catalog.transaction(async (tx) => {
          await this.catalog.instances.lockForUpdate(instance.id, tx);
          await this.refuseWhileBusy(instance, tx);
          return this.catalog.jobs.enqueue({ kind: 'restore', instanceId: instance.id, backupId, scheduleId: null, payload: { ...payload }, createdBy: actor.name }, tx);
        });
      } catch (err) {
        if (!(err instanceof UniqueViolation)) throw err;
        const running = (await this.catalog.jobs.active({ instanceId: instance.id, kind: 'restore' }))[0];
        throw new InstanceBusyError('restore', instance.name, running?.id);
      }
      await this.audit.record(actor, 'kanto.restore', `job:${job.id}`, {
        correlation_id: correlationId, dir, instance: instance.name,
        source: backupId !== null ? `backup:${backupId}` : (payload.source as DownloadSource).provider, ...(payload.source?.shown ?? {}),
      });
      this.runner()?.wake();
      return { ...job, instance: instance.name };
    });
  }

  /**
   * The newest successful backup with this correlation id: first among the directory's own
   * backups, then among every Kanto directory's (a restore may target another directory).
   */
  async findByCorrelation(actor: Actor, dir: string, correlationId: string): Promise<Backup | null> {
    return (await this.searchBackups(actor, correlationId, kantoInstanceName(dir))) ?? this.searchBackups(actor, correlationId);
  }

  private async searchBackups(actor: Actor, correlationId: string, instance?: string): Promise<Backup | null> {
    const pageSize = 200;
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.backups.list(actor, { ...(instance ? { instance } : {}), status: 'success', limit: pageSize, offset });
      const hit = page.items.find((b) => b.instance.startsWith('kanto-') && kantoCorrelationOf(b) === correlationId);
      if (hit) return hit;
      if (offset + pageSize >= page.total) return null;
    }
  }

  private async refuseWhileBusy(instance: Instance, tx: CatalogTx): Promise<void> {
    const active = (await this.catalog.jobs.active({ instanceId: instance.id }, tx)).find((j) => j.kind !== 'retention');
    if (active) throw new InstanceBusyError(active.kind, instance.name, active.id);
  }

  /** Runs `fn` after every earlier admission for the same directory in this process has ended. */
  private admit<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const key = kantoInstanceName(dir);
    const before = this.admitting.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.admitting.set(key, settled);
    void settled.then(() => {
      if (this.admitting.get(key) === settled) this.admitting.delete(key);
    });
    return run;
  }

  private sealedDownload(s: Extract<KantoRestoreSource, { kind: 'download' }>): DownloadSource {
    const provider = downloadSource(s.options);
    if (provider === null) throw new CoreError('invalid', 'the options name no download source', 'options');
    return {
      kind: 'download', provider, shown: shownSource(s.options, provider, s.objectName),
      options_sealed: this.secret.seal(JSON.stringify(s.options)),
      ...(s.objectName !== undefined ? { object_name: s.objectName } : {}),
      allow_private_addresses: s.allowPrivateAddresses, max_bytes: s.maxBytes,
    };
  }
}

/** Where a download comes from, for the audit log and the job record: the URL without user info and query, or the object. */
function shownSource(o: TransferOptions, provider: string, objectName: string | undefined): Record<string, string> {
  if (provider === 'https' && o['https.url']) return { url: displayUrl(o['https.url'].trim()) };
  if (provider === 'aws') return { bucket: o['aws.s3.bucket'] ?? '', key: o['aws.object.key'] ?? objectName ?? '' };
  if (provider === 'azure') return { container: o['azure.blob.container'] ?? '', blob: o['azure.blob.name'] ?? objectName ?? '' };
  return {};
}
