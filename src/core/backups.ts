/** Backups and restores: the rules (quotas, one restore per instance, who may do what) and the jobs that carry them out. */
import { type Backup, BACKUP_TYPES, type BackupKind, type BackupStatus, type BackupScope, type Catalog, type Instance, type Job, type Page, UniqueViolation } from '../catalog/index.js';
import { LockConflictError, withLock } from '../repo/index.js';
import type { AuditLog } from './audit.js';
import { isLiveUpload } from './backup-import.js';
import { UPLOADED_KEY } from './backup-origin.js';
import { CoalescedRead } from './coalesced-read.js';
import { CoreError, conflict, invalid, notFound } from './errors.js';
import { BUILTIN_INSTANCE } from './instances.js';
import { retryOnLockConflict } from './jobs/lock-retry.js';
import type { RestorePayload } from './jobs/restore-executor.js';
import type { JobRunner } from './jobs/runner.js';
import { partsOf } from './parts.js';
import { checkPartialItems } from './partial-items.js';
import { type Actor, requirePermission } from './permissions.js';
import type { RepositoryService } from './repositories.js';

export interface Identity {
  hostname: string;
  model: string;
  serial: string;
  swVersion: string;
}

export interface Limits {
  /** Backups (not failed ones) an instance may hold; 0 = no limit. */
  maxBackupsPerInstance: number;
  /** Backups a user (account) may have created; 0 = no limit. Admins' accounts only with `quotaIncludesAdmins`. */
  maxBackupsPerAccount: number;
  /**
   * Whether the account quota also holds for admins. Off by default: the quota keeps one user from
   * filling the store, and an admin, who may delete anyone's backups and change the limits, is
   * not that user; a quota that stops the administrator's backup when it matters is a surprise.
   */
  quotaIncludesAdmins: boolean;
}

export interface CreateBackup {
  instance?: unknown;
  type?: unknown;
  include_files?: unknown;
  include_database?: unknown;
  label?: unknown;
  description?: unknown;
  scope?: BackupScope;
  /** For partial backups: part name → null (all of it) or the items (paths inside the part). */
  query_args?: unknown;
  extra?: Record<string, unknown>;
  scheduleId?: number;
}

export interface BackupQuery {
  instance?: string;
  status?: BackupStatus;
  type?: BackupKind;
  scope?: BackupScope;
  /** Keyset paging by id (Syncano's last_pk): only ids above / below these, ordered by id. */
  idAbove?: number;
  idBelow?: number;
  /** Default newest first. */
  order?: 'asc' | 'desc';
  /** `created` (default): by creation time, then id; `id`: by id alone (keyset paging). */
  sort?: 'created' | 'id';
  limit: number;
  offset: number;
}

export type CatalogTx = Parameters<Parameters<Catalog['transaction']>[0]>[0];

/** Pages of the backup list kept by BackupService.list (least recently used dropped first). */
const KEPT_PAGES = 64;
/** Single backups kept by BackupService.get: about 1 KiB each, so 16 MiB at most. */
const KEPT_BACKUPS = 16_384;

/**
 * How long a delete waits for the repository's exclusive lock (backups and downloads hold shared
 * ones) before it answers 503 with Retry-After: a client or proxy waits on the request, and many
 * time out after 30 s, so it is told early to come back rather than held for the minute a backup may take.
 */
const DELETE_LOCK_WAIT_MS = 5_000;
const DELETE_RETRY_AFTER_S = 10;

export class BackupService {
  /** Query → the page read and the change counter it was read under. */
  private readonly pages = new Map<string, { changes: number; page: Page<Backup> }>();
  /** Backup id → the record read and the change counter it was read under. */
  private readonly kept = new Map<number, { changes: number; backup: Backup }>();
  /** The change counter, one query for all concurrent readers (never older than the call). */
  private readonly changes: CoalescedRead<number>;

  constructor(
    private readonly catalog: Catalog,
    private readonly repos: RepositoryService,
    private readonly runner: () => JobRunner | undefined,
    private readonly audit: AuditLog,
    private readonly identity: Identity,
    private readonly limits: Limits,
  ) {
    this.changes = new CoalescedRead(() => this.catalog.backupChanges());
  }

  /**
   * `admit`, when given, runs inside the transaction that inserts the backup, after the instance
   * row is locked: a rule of the caller's (Kanto's one operation per instance) checked there holds
   * against other processes admitting work for the same instance at the same moment.
   */
  async create(actor: Actor, o: CreateBackup, admit?: (tx: CatalogTx) => Promise<void>): Promise<{ backup: Backup; job: Job }> {
    requirePermission(actor, 'backup.create');
    const instanceName = o.instance ?? BUILTIN_INSTANCE;
    if (typeof instanceName !== 'string' || instanceName.length === 0) throw invalid('instance', 'must be the name of an instance');
    const type = o.type ?? 'incremental';
    if (typeof type !== 'string' || !(BACKUP_TYPES as readonly string[]).includes(type)) throw invalid('type', `must be one of ${BACKUP_TYPES.join(', ')}`);
    const includeFiles = o.include_files ?? true;
    if (typeof includeFiles !== 'boolean') throw invalid('include_files', 'must be a boolean');
    const includeDatabase = o.include_database ?? true;
    if (typeof includeDatabase !== 'boolean') throw invalid('include_database', 'must be a boolean');
    if (!includeFiles && !includeDatabase) throw invalid('include_files', 'include_files and include_database are both false: nothing to back up');
    const label = optionalString(o.label, 'label', MAX_LABEL);
    const description = optionalString(o.description, 'description', MAX_DESCRIPTION);
    const instance = await this.catalog.instances.byName(instanceName);
    if (!instance) throw new CoreError('not_found', `instance ${instanceName} not found`, 'instance');
    const scope = o.scope ?? 'full';
    const queryArgs = scope === 'partial' ? validQueryArgs(o.query_args, partsOf(instance.parts).map((p) => p.name)) : null;
    await checkPartialItems(instance, { scope, queryArgs });

    try {
      const created = await this.catalog.transaction(async (tx) => {
        // Counted and inserted in one transaction (SQLite: one writer; PostgreSQL: the instance row
        // is locked), so two requests at once cannot both take the last free place.
        await this.takePlace(actor, instance, tx);
        await admit?.(tx);
        const backup = await this.catalog.backups.insert({
          instanceId: instance.id, repositoryId: instance.repositoryId, scope, type: type as BackupKind, label, description, status: 'scheduled',
          ...this.identity, queryArgs, includeFiles, includeDatabase, createdBy: actor.name, scheduleId: o.scheduleId ?? null, extra: o.extra ?? null,
        }, tx);
        const job = await this.catalog.jobs.enqueue({ kind: 'backup', instanceId: instance.id, backupId: backup.id, scheduleId: o.scheduleId ?? null, payload: {}, createdBy: actor.name }, tx);
        return { backup, job };
      });
      await this.audit.record(actor, 'backup.create', `backup:${created.backup.id}`, { instance: instance.name, type, scope });
      this.runner()?.wake();
      return created;
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict('a backup of this schedule is already running');
      throw err;
    }
  }

  /** Coffer's own actors (service) never count against an account quota; admins only when the setting says so. */
  private accountQuotaApplies(actor: Actor): boolean {
    return !actor.service && (actor.role !== 'admin' || this.limits.quotaIncludesAdmins);
  }

  /** Within a transaction: the instance row locked, then the quotas checked for one more backup. */
  private async takePlace(actor: Actor, instance: Instance, tx: CatalogTx): Promise<void> {
    await this.catalog.instances.lockForUpdate(instance.id, tx);
    if (this.limits.maxBackupsPerInstance > 0 && (await this.catalog.backups.countLive({ instanceId: instance.id }, tx)) >= this.limits.maxBackupsPerInstance) {
      throw new CoreError('quota_exceeded', `instance ${instance.name} already has the maximum of ${this.limits.maxBackupsPerInstance} backups; delete one first`);
    }
    if (this.limits.maxBackupsPerAccount > 0 && this.accountQuotaApplies(actor) && (await this.catalog.backups.countLive({ createdBy: actor.name }, tx)) >= this.limits.maxBackupsPerAccount) {
      throw new CoreError('quota_exceeded', `account ${actor.name} already has the maximum of ${this.limits.maxBackupsPerAccount} backups; delete one first`);
    }
  }

  /**
   * The record of an upload (backup-import.ts), status `uploading`, under the same quotas as a
   * backup; the import fills it in when it succeeds and removes it when it fails.
   */
  async insertUploading(actor: Actor, o: { instance?: unknown; label?: unknown; description?: unknown }): Promise<Backup> {
    requirePermission(actor, 'backup.create');
    const instanceName = o.instance ?? BUILTIN_INSTANCE;
    if (typeof instanceName !== 'string' || instanceName.length === 0) throw invalid('instance', 'must be the name of an instance');
    const label = optionalString(o.label, 'label', MAX_LABEL);
    const description = optionalString(o.description, 'description', MAX_DESCRIPTION);
    const instance = await this.catalog.instances.byName(instanceName);
    if (!instance) throw new CoreError('not_found', `instance ${instanceName} not found`, 'instance');
    return this.catalog.transaction(async (tx) => {
      await this.takePlace(actor, instance, tx);
      return this.catalog.backups.insert({
        instanceId: instance.id, repositoryId: instance.repositoryId, scope: 'full', type: 'full', label, description, status: 'uploading',
        // Marked as an upload from its first moment; the file's claims are added once it is read.
        ...this.identity, queryArgs: null, includeFiles: true, includeDatabase: false, createdBy: actor.name, scheduleId: null, extra: { [UPLOADED_KEY]: {} },
      }, tx);
    });
  }

  async get(actor: Actor, id: number): Promise<Backup> {
    requirePermission(actor, 'backup.read');
    // Kept like the pages of the list: clients poll a backup's status far more often than it changes.
    const changes = await this.changes.get();
    const kept = this.kept.get(id);
    if (kept && kept.changes === changes) return kept.backup;
    const b = await this.catalog.backups.get(id);
    if (!b) throw notFound(`backup ${id}`);
    this.kept.delete(id);
    if (this.kept.size >= KEPT_BACKUPS) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(id, { changes, backup: Object.freeze(b) });
    return b;
  }

  /**
   * A page of backups. Pages are kept, a few dozen, under the catalog's change counter of the
   * tables they are read from: dashboards and clients poll the same pages far more often than
   * backups change, and a page of 100 costs a millisecond of catalog reads. The same Page object
   * comes back while nothing changed, so the HTTP layer may keep its serialized form too.
   */
  async list(actor: Actor, q: BackupQuery): Promise<Page<Backup>> {
    requirePermission(actor, 'backup.read');
    const key = JSON.stringify([q.instance, q.status, q.type, q.scope, q.limit, q.offset, q.idAbove, q.idBelow, q.order, q.sort]);
    const changes = await this.changes.get();
    const kept = this.pages.get(key);
    if (kept && kept.changes === changes) {
      this.pages.delete(key);
      this.pages.set(key, kept);
      return kept.page;
    }
    // Frozen: the same objects go to every caller until the catalog changes.
    const page = await this.readPage(q);
    page.items.forEach((b) => Object.freeze(b));
    Object.freeze(page.items);
    Object.freeze(page);
    if (this.pages.size >= KEPT_PAGES) this.pages.delete(this.pages.keys().next().value!);
    this.pages.set(key, { changes, page });
    return page;
  }

  private async readPage(q: BackupQuery): Promise<Page<Backup>> {
    let instanceId: number | undefined;
    if (q.instance !== undefined) {
      const i = await this.catalog.instances.byName(q.instance);
      if (!i) return { items: [], total: 0 };
      instanceId = i.id;
    }
    return this.catalog.backups.list({
      limit: q.limit, offset: q.offset, ...(instanceId !== undefined ? { instanceId } : {}),
      ...(q.status ? { status: q.status } : {}), ...(q.type ? { type: q.type } : {}), ...(q.scope ? { scope: q.scope } : {}),
      ...(q.idAbove !== undefined ? { idAbove: q.idAbove } : {}), ...(q.idBelow !== undefined ? { idBelow: q.idBelow } : {}),
      ...(q.order ? { order: q.order } : {}), ...(q.sort ? { sort: q.sort } : {}),
    });
  }

  /** Deletes a backup: its snapshot leaves the repository (space returns at the next prune) and its record the catalog. */
  async remove(actor: Actor, id: number): Promise<void> {
    requirePermission(actor, 'backup.delete');
    const b = await this.catalog.backups.get(id);
    if (!b) throw notFound(`backup ${id}`);
    if ((await this.catalog.jobs.active({ backupId: id })).length > 0) throw conflict(`backup ${id} is in use by a running job (a backup or restore); cancel it or wait`);
    // Its upload would lose the files it is reading (the staging of a record that is gone is swept).
    if (isLiveUpload(b)) throw conflict(`backup ${id} is still being uploaded; wait for the upload to end`);
    if (b.snapshotId) {
      try {
        const repo = await this.repos.open(b.repositoryId);
        // Bounded by maxMs alone, so that it ends with the lock conflict (and its Retry-After), not an abort.
        await retryOnLockConflict(new AbortController().signal, () => withLock(repo, true, () => repo.backend.remove({ type: 'snapshot', name: b.snapshotId! })), DELETE_LOCK_WAIT_MS);
      } catch (err) {
        const busy = err instanceof LockConflictError;
        throw new CoreError('unavailable', `the backup's snapshot could not be removed from its repository: ${(err as Error).message}`, undefined,
          { cause: err, ...(busy ? { retryAfterSeconds: DELETE_RETRY_AFTER_S } : {}) });
      }
    }
    await this.catalog.backups.remove(id);
    await this.audit.record(actor, 'backup.delete', `backup:${id}`, { instance: b.instance, snapshot: b.snapshotId });
  }

  async restore(actor: Actor, backupId: number, o: { target?: unknown; paths?: unknown; mode?: 'merge' | 'exact' }): Promise<Job & { instance: string }> {
    requirePermission(actor, 'restore.create');
    const b = await this.catalog.backups.get(backupId);
    if (!b) throw notFound(`backup ${backupId}`);
    if (b.status !== 'success' || !b.snapshotId) throw conflict(`backup ${backupId} is ${b.status}; only a successful backup can be restored`);
    let targetId = b.instanceId;
    let targetName = b.instance;
    if (o.target !== undefined && o.target !== null) {
      if (typeof o.target !== 'string' || o.target.length === 0) throw invalid('target', 'must be the name of an instance');
      const t = await this.catalog.instances.byName(o.target);
      if (!t) throw new CoreError('not_found', `target instance ${o.target} not found`, 'target');
      targetId = t.id;
      targetName = t.name;
    }
    const payload: RestorePayload = { mode: o.mode ?? 'merge' };
    if (o.paths !== undefined && o.paths !== null) {
      if (!Array.isArray(o.paths) || !o.paths.every((p) => typeof p === 'string' && p.length > 0 && !p.includes('\0'))) throw invalid('paths', 'must be an array of paths');
      payload.paths = this.resolvePaths(b, o.paths as string[]);
    }
    try {
      const job = await this.catalog.jobs.enqueue({ kind: 'restore', instanceId: targetId, backupId, scheduleId: null, payload: { ...payload }, createdBy: actor.name });
      await this.audit.record(actor, 'restore.create', `backup:${backupId}`, { job_id: job.id, target: o.target ?? b.instance, paths: payload.paths ?? null });
      this.runner()?.wake();
      return { ...job, instance: targetName };
    } catch (err) {
      if (err instanceof UniqueViolation) {
        const running = (await this.catalog.jobs.active({ instanceId: targetId, kind: 'restore' }))[0];
        throw conflict(`a restore of this instance is already in progress${running ? ` (job ${running.id})` : ''}`);
      }
      throw err;
    }
  }

  /** Restore paths, given as absolute paths of the backup or as `part/inside/it`, made absolute. */
  private resolvePaths(b: Backup, paths: string[]): string[] {
    const recorded = (b.extra?.['part_paths'] ?? {}) as Record<string, string>;
    return paths.map((p, i) => {
      if (p.split('/').includes('..')) throw invalid(`paths[${i}]`, 'must not contain ..');
      if (p.startsWith('/')) {
        if (!Object.values(recorded).some((root) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`))) throw invalid(`paths[${i}]`, `${p} is not inside any part of this backup`);
        return p.replace(/\/+$/, '') || '/';
      }
      const [part, ...rest] = p.split('/').filter(Boolean);
      const root = part !== undefined ? recorded[part] : undefined;
      if (!root) throw invalid(`paths[${i}]`, `${p} names no part of this backup (parts: ${Object.keys(recorded).join(', ') || 'none'})`);
      return rest.length ? `${root.replace(/\/+$/, '')}/${rest.join('/')}` : root;
    });
  }
}

/** Longest backup label and description (Syncano's limits, kept by every API). */
export const MAX_LABEL = 64;
export const MAX_DESCRIPTION = 256;

function optionalString(v: unknown, field: string, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw invalid(field, `must be a string of at most ${max} characters`);
  return v;
}

function validQueryArgs(v: unknown, partNames: string[]): Record<string, string[] | null> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('query_args', 'must be an object of part name → null or a list of items');
  const out: Record<string, string[] | null> = {};
  for (const [k, items] of Object.entries(v)) {
    if (!partNames.includes(k)) throw invalid(`query_args.${k}`, `is not a part of this instance (parts: ${partNames.join(', ') || 'none'})`);
    if (items === null) out[k] = null;
    else if (Array.isArray(items) && items.every((x) => typeof x === 'string' && x.length > 0 && !x.split('/').includes('..') && !x.startsWith('/'))) out[k] = items as string[];
    else throw invalid(`query_args.${k}`, 'must be null or a list of relative paths inside the part');
  }
  // A part query_args does not name is backed up whole (see selectedPaths), so only naming every part with [] selects nothing.
  if (Object.keys(out).length === 0) throw invalid('query_args', 'filters no part (every part would be backed up whole): name at least one part, or make a full backup');
  if (partNames.every((n) => out[n]?.length === 0)) throw invalid('query_args', 'selects nothing: every part has an empty list');
  return out;
}

export const BACKUP_STATUSES_FOR_FILTER: readonly BackupStatus[] = ['scheduled', 'running', 'uploading', 'success', 'error'];
