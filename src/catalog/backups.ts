import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import { parseJson } from './json.js';
import type { BackupsTable, Database } from './schema.js';
import { type Backup, type BackupKind, type BackupScope, type BackupStatus, type Page, nowIso } from './types.js';

type Row = Selectable<BackupsTable> & { instance: string };

function toBackup(r: Row): Backup {
  return {
    id: r.id, instanceId: r.instance_id, instance: r.instance, repositoryId: r.repository_id, scope: r.scope as BackupScope,
    type: r.type as BackupKind, label: r.label, description: r.description, status: r.status as BackupStatus,
    statusInfo: r.status_info, createdAt: r.created_at, updatedAt: r.updated_at, backupTime: r.backup_time,
    size: Number(r.size), bytesAdded: Number(r.bytes_added), files: Number(r.files), snapshotId: r.snapshot_id, parentId: r.parent_id,
    hostname: r.hostname, model: r.model, serial: r.serial, swVersion: r.sw_version,
    queryArgs: parseJson(r.query_args, null), includeFiles: r.include_files === 1, includeDatabase: r.include_database === 1,
    createdBy: r.created_by, scheduleId: r.schedule_id, extra: parseJson(r.extra, null),
  };
}

export interface NewBackup {
  instanceId: number;
  repositoryId: number;
  scope: BackupScope;
  type: BackupKind;
  label: string | null;
  description: string | null;
  status: BackupStatus;
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

export interface BackupFilter {
  instanceId?: number;
  status?: BackupStatus;
  type?: BackupKind;
  scope?: BackupScope;
  createdBy?: string;
  /** Only backups whose `extra` JSON contains this text (adapters' correlation ids). */
  /** Keyset paging by id (Syncano's last_pk): only ids above / below these. */
  idAbove?: number;
  idBelow?: number;
  limit: number;
  offset: number;
  order?: 'asc' | 'desc';
  /** `created` (default): by creation time, then id; `id`: by id alone (keyset paging). */
  sort?: 'created' | 'id';
}

export interface BackupPatch {
  status?: BackupStatus;
  statusInfo?: string | null;
  backupTime?: string | null;
  size?: number;
  bytesAdded?: number;
  files?: number;
  snapshotId?: string | null;
  parentId?: number | null;
  label?: string | null;
  description?: string | null;
  extra?: Record<string, unknown> | null;
  /** An uploaded backup takes these from its file. */
  hostname?: string;
  model?: string;
  serial?: string;
  swVersion?: string;
}

export class BackupStore {
  /**
   * `get` is the API's hottest read (clients poll a backup's status): its query is built and
   * compiled once, and each call only binds the id. Building it with Kysely costs more than
   * SQLite takes to answer it.
   */
  private readonly getById: CompiledQuery<Row>;

  constructor(private readonly db: Kysely<Database>) {
    this.getById = this.select().where('backups.id', '=', 0).compile();
  }

  private select(db: Kysely<Database> = this.db) {
    return db.selectFrom('backups').innerJoin('instances', 'instances.id', 'backups.instance_id').selectAll('backups').select('instances.name as instance');
  }

  /** Inserts inside the caller's transaction when `tx` is given. */
  async insert(b: NewBackup, tx: Kysely<Database> = this.db): Promise<Backup> {
    const now = nowIso();
    const { id } = await tx.insertInto('backups').values({
      instance_id: b.instanceId, repository_id: b.repositoryId, scope: b.scope, type: b.type, label: b.label, description: b.description,
      status: b.status, status_info: null, created_at: now, updated_at: now, backup_time: null, size: 0, bytes_added: 0, files: 0,
      snapshot_id: null, parent_id: null, hostname: b.hostname, model: b.model, serial: b.serial, sw_version: b.swVersion,
      query_args: b.queryArgs ? JSON.stringify(b.queryArgs) : null, include_files: b.includeFiles ? 1 : 0,
      include_database: b.includeDatabase ? 1 : 0, created_by: b.createdBy, schedule_id: b.scheduleId,
      extra: b.extra ? JSON.stringify(b.extra) : null,
    }).returning('id').executeTakeFirstOrThrow();
    return toBackup(await this.select(tx).where('backups.id', '=', id).executeTakeFirstOrThrow());
  }

  async get(id: number): Promise<Backup | undefined> {
    const r = (await this.db.executeQuery<Row>({ ...this.getById, parameters: [id] })).rows[0];
    return r && toBackup(r);
  }

  async list(f: BackupFilter): Promise<Page<Backup>> {
    let q = this.db.selectFrom('backups');
    if (f.instanceId !== undefined) q = q.where('backups.instance_id', '=', f.instanceId);
    if (f.status) q = q.where('backups.status', '=', f.status);
    if (f.type) q = q.where('backups.type', '=', f.type);
    if (f.scope) q = q.where('backups.scope', '=', f.scope);
    if (f.createdBy) q = q.where('backups.created_by', '=', f.createdBy);
    if (f.idAbove !== undefined) q = q.where('backups.id', '>', f.idAbove);
    if (f.idBelow !== undefined) q = q.where('backups.id', '<', f.idBelow);
    const total = Number((await q.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const order = f.order ?? 'desc';
    // The page's ids first, from the index alone, then their rows: with OFFSET the database steps
    // over every skipped entry, and stepping over index entries instead of joined rows made a page
    // at offset 9,000 four times cheaper.
    if (f.sort === 'id') {
      const pageIds = q.select('backups.id').orderBy('backups.id', order).limit(f.limit).offset(f.offset);
      const rows = await this.select().where('backups.id', 'in', pageIds).orderBy('backups.id', order).execute();
      return { total, items: rows.map(toBackup) };
    }
    const pageIds = q.select('backups.id').orderBy('backups.created_at', order).orderBy('backups.id', order).limit(f.limit).offset(f.offset);
    const rows = await this.select().where('backups.id', 'in', pageIds)
      .orderBy('backups.created_at', order).orderBy('backups.id', order).execute();
    return { total, items: rows.map(toBackup) };
  }

  /** Backups that count against quotas: everything except failed ones. */
  async countLive(f: { instanceId?: number; createdBy?: string }, tx: Kysely<Database> = this.db): Promise<number> {
    let q = tx.selectFrom('backups').where('status', '!=', 'error');
    if (f.instanceId !== undefined) q = q.where('instance_id', '=', f.instanceId);
    if (f.createdBy !== undefined) q = q.where('created_by', '=', f.createdBy);
    return Number((await q.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  }

  /** Latest successful backup of an instance, optionally of one type: the parent for incremental/differential. */
  async latestSuccess(instanceId: number, type?: BackupKind): Promise<Backup | undefined> {
    let q = this.select().where('backups.instance_id', '=', instanceId).where('backups.status', '=', 'success').where('backups.scope', '=', 'full');
    if (type) q = q.where('backups.type', '=', type);
    const r = await q.orderBy('backups.backup_time', 'desc').orderBy('backups.id', 'desc').limit(1).executeTakeFirst();
    return r && toBackup(r);
  }

  async bySnapshot(instanceId: number, snapshotIds: string[]): Promise<Backup[]> {
    if (snapshotIds.length === 0) return [];
    const rows = await this.select().where('backups.instance_id', '=', instanceId).where('backups.snapshot_id', 'in', snapshotIds).execute();
    return rows.map(toBackup);
  }

  /** Updates inside the caller's transaction when `tx` is given. */
  async update(id: number, p: BackupPatch, tx: Kysely<Database> = this.db): Promise<void> {
    const set: Partial<Selectable<BackupsTable>> = { updated_at: nowIso() };
    if (p.status !== undefined) set.status = p.status;
    if (p.statusInfo !== undefined) set.status_info = p.statusInfo;
    if (p.backupTime !== undefined) set.backup_time = p.backupTime;
    if (p.size !== undefined) set.size = p.size;
    if (p.bytesAdded !== undefined) set.bytes_added = p.bytesAdded;
    if (p.files !== undefined) set.files = p.files;
    if (p.snapshotId !== undefined) set.snapshot_id = p.snapshotId;
    if (p.parentId !== undefined) set.parent_id = p.parentId;
    if (p.label !== undefined) set.label = p.label;
    if (p.description !== undefined) set.description = p.description;
    if (p.extra !== undefined) set.extra = p.extra ? JSON.stringify(p.extra) : null;
    if (p.hostname !== undefined) set.hostname = p.hostname;
    if (p.model !== undefined) set.model = p.model;
    if (p.serial !== undefined) set.serial = p.serial;
    if (p.swVersion !== undefined) set.sw_version = p.swVersion;
    await tx.updateTable('backups').set(set).where('id', '=', id).execute();
  }

  async remove(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('backups').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async countForInstance(instanceId: number): Promise<number> {
    return Number((await this.db.selectFrom('backups').where('instance_id', '=', instanceId).select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  }

  /** Total bytes of successful backups (for /metrics). */
  async totals(): Promise<{ count: number; bytes: number; added: number }> {
    const r = await this.db.selectFrom('backups').where('status', '=', 'success')
      .select((e) => [e.fn.countAll<number>().as('n'), e.fn.sum<number>('size').as('bytes'), e.fn.sum<number>('bytes_added').as('added')])
      .executeTakeFirstOrThrow();
    return { count: Number(r.n), bytes: Number(r.bytes ?? 0), added: Number(r.added ?? 0) };
  }
}
