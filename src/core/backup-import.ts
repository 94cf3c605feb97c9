/**
 * Uploading a backup file: the ZIP spooled to a file under the data directory (bounded memory, a
 * size limit), checked and unpacked into a staging directory by extractBackupZip (zip slip, zip
 * bombs, symlinks out, checksums, truncation), then stored as a new snapshot of the instance whose
 * paths are the original ones from the manifest. The backup record exists from the start with
 * status `uploading`; on any failure the record, any snapshot and every temporary file go again,
 * so a half-imported backup is never left behind.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Backup, BackupPatch, Catalog, Instance } from '../catalog/index.js';
import {
  type BackupManifest, BackupFileError, CancelledError, type JsonValue, LockConflictError, NothingToBackUpError, type Repository,
  backup, extractBackupZip, withLock, withLockOverlapped,
} from '../repo/index.js';
import type { AuditLog } from './audit.js';
import { backupFileSizeOr } from './backup-file-meta.js';
import type { BackupService } from './backups.js';
import { CoreError } from './errors.js';
import { BACKUP_TAG, INSTANCE_TAG } from './jobs/backup-executor.js';
import { retryOnLockConflict } from './jobs/lock-retry.js';
import { partsOf } from './parts.js';
import type { Actor } from './permissions.js';
import type { RepositoryService } from './repositories.js';

export interface UploadOptions {
  /** Default: the built-in instance `device`. */
  instance?: string;
  /** Default: the file's own (manifest metadata). */
  description?: string | null;
  label?: string | null;
}

export interface UploadSettings {
  /** Where uploads are spooled and unpacked (a directory below the data directory). */
  workDir: string;
  /** Largest accepted upload in bytes. */
  maxUploadBytes: number;
  /** Engine worker threads (default: one per core). */
  engineWorkers?: number;
}

export interface ImportContext {
  catalog: Catalog;
  repos: RepositoryService;
  backups: BackupService;
  audit: AuditLog;
  settings: UploadSettings;
}

/** Tag of snapshots made from an uploaded file. */
export const UPLOAD_TAG = 'uploaded';

/** A running upload touches its record this often, so that others can tell it from one a crash left. */
const HEARTBEAT_MS = 30_000;
/** An `uploading` record not touched for this long belongs to a process that is gone. */
const ABANDONED_AFTER_MS = 10 * 60_000;

export async function importBackupFile(ctx: ImportContext, actor: Actor, o: UploadOptions, body: Readable, signal?: AbortSignal): Promise<Backup> {
  // Abandoned uploads count against the quotas: cleared first.
  await sweepAbandonedUploads(ctx).catch(() => undefined);
  const record = await ctx.backups.insertUploading(actor, o);
  const work = path.join(ctx.settings.workDir, `upload-${record.id}-${randomBytes(6).toString('hex')}`);
  let repo: Repository | undefined;
  let snapshotId: string | undefined;
  const heartbeat = setInterval(() => void ctx.catalog.backups.update(record.id, {}).catch(() => undefined), HEARTBEAT_MS);
  heartbeat.unref();
  try {
    fs.mkdirSync(work, { recursive: true, mode: 0o700 });
    const zip = path.join(work, 'upload.zip');
    await spool(body, zip, ctx.settings.maxUploadBytes, signal);
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked, { mode: 0o700 });
    const manifest = await unpack(zip, unpacked, signal);
    fs.rmSync(zip, { force: true }); // the disk space is needed for the unpacked tree's packs
    const { root, paths } = snapshotTree(manifest, unpacked, path.join(work, 'tree'));

    const instance = await ctx.catalog.instances.byId(record.instanceId);
    if (!instance) throw new CoreError('not_found', `instance ${record.instance} no longer exists`, 'instance');
    repo = await openRepo(ctx.repos, record.repositoryId);
    const meta = manifest.metadata;
    const time = snapshotDate(manifest);
    const hostname = text(meta['hostname']) ?? manifest.snapshot.hostname;
    const r = await storeSnapshot(repo, {
      paths, root, host: hostname, time, tags: [`${INSTANCE_TAG}${instance.name}`, `${BACKUP_TAG}${record.id}`, 'full', UPLOAD_TAG],
      ...(ctx.settings.engineWorkers !== undefined ? { workers: ctx.settings.engineWorkers } : {}), ...(signal ? { signal } : {}),
    });
    snapshotId = r.snapshotId;
    if (r.errors > 0) throw new CoreError('internal', `${r.errors} unpacked entries could not be read back: ${r.warnings.join('; ')}`);

    const done = {
      status: 'success', statusInfo: null, snapshotId: r.snapshotId, backupTime: time.toISOString(),
      files: r.files, bytesAdded: r.bytesAdded,
      hostname, model: text(meta['model']) ?? record.model, serial: text(meta['serial']) ?? record.serial, swVersion: text(meta['sw_version']) ?? record.swVersion,
      ...(o.label === undefined ? { label: limited(meta['label'], 64) } : {}),
      ...(o.description === undefined ? { description: limited(meta['description'], 256) } : {}),
      extra: {
        part_paths: partPaths(instance, meta['part_paths'], paths),
        uploaded: { instance: text(meta['instance']) ?? null, backup_id: typeof meta['backup_id'] === 'number' ? meta['backup_id'] : null, snapshot_id: manifest.snapshot.id },
      },
    } satisfies BackupPatch;
    const size = await backupFileSizeOr(repo, { ...record, ...done }, r.bytes);
    await ctx.catalog.backups.update(record.id, { ...done, size });
    const saved = await ctx.catalog.backups.get(record.id);
    if (!saved) throw new CoreError('conflict', `backup ${record.id} was deleted while it was being uploaded`);
    await ctx.audit.record(actor, 'backup.upload', `backup:${record.id}`, { instance: instance.name, snapshot: r.snapshotId, files: r.files, size });
    return saved;
  } catch (err) {
    await undo(ctx, record.id, repo, snapshotId);
    throw coreErrorOf(err);
  } finally {
    clearInterval(heartbeat);
    removeTree(work);
  }
}

/**
 * Removes what uploads of a process that died left: `uploading` records nobody touched for
 * ABANDONED_AFTER_MS, and staging directories of this data directory whose record is gone.
 */
export async function sweepAbandonedUploads(ctx: Pick<ImportContext, 'catalog' | 'settings'>): Promise<void> {
  const abandoned = (b: Backup): boolean => Date.now() - Date.parse(b.updatedAt) > ABANDONED_AFTER_MS;
  for (const b of (await ctx.catalog.backups.list({ status: 'uploading', limit: 1000, offset: 0 })).items) {
    if (abandoned(b)) await ctx.catalog.backups.remove(b.id);
  }
  let names: string[];
  try {
    names = fs.readdirSync(ctx.settings.workDir);
  } catch {
    return;
  }
  for (const name of names) {
    const id = /^upload-(\d+)-/.exec(name)?.[1];
    if (id === undefined) continue;
    // Read now, not from the list above: an upload that started meanwhile has a fresh record.
    const b = await ctx.catalog.backups.get(Number(id));
    if (!b || b.status !== 'uploading' || abandoned(b)) removeTree(path.join(ctx.settings.workDir, name));
  }
}

/** Counts bytes on their way to disk and refuses one past the limit. */
class SizeLimit extends Transform {
  private count = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.max) cb(new CoreError('invalid', `body: the backup file is larger than the ${this.max} bytes this server accepts (serve setting max-upload-bytes)`, 'body'));
    else cb(null, chunk);
  }
}

/**
 * Writes the body to `file`. Past the limit (or on a cancel) the rest of the body is read and
 * dropped rather than the connection cut, so that the client still gets the answer saying why.
 */
async function spool(body: Readable, file: string, max: number, signal?: AbortSignal): Promise<void> {
  const limit = new SizeLimit(max);
  const onBodyError = (err: Error): void => {
    limit.destroy(err);
  };
  body.once('error', onBodyError);
  body.pipe(limit);
  try {
    await pipeline(limit, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }), ...(signal ? [{ signal }] : []));
  } catch (err) {
    body.unpipe(limit);
    body.resume();
    if (err instanceof CoreError) throw err;
    if (signal?.aborted) throw new CancelledError('upload cancelled');
    throw new CoreError('invalid', `body: the upload did not arrive whole: ${(err as Error).message}`, 'body', { cause: err });
  } finally {
    body.off('error', onBodyError);
  }
}

async function unpack(zip: string, target: string, signal?: AbortSignal): Promise<BackupManifest> {
  const manifest = await extractBackupZip(zip, target, signal ? { signal } : {});
  if (manifest.metadata['kind'] !== undefined && manifest.metadata['kind'] !== 'coffer-instance-backup') {
    throw new CoreError('invalid', `body: this is not a backup of an instance (manifest metadata.kind is ${JSON.stringify(manifest.metadata['kind'])})`, 'body');
  }
  return manifest;
}

/**
 * Where the engine reads the unpacked tree (`root`) and which snapshot paths it records. The ZIP's
 * `content_dir` mirrors the snapshot's `snapshot_root`; when that is not `/`, the content is moved
 * to `<tree>/<snapshot_root>` so that every snapshot path p lies at `root + p`.
 */
function snapshotTree(manifest: BackupManifest, unpacked: string, treeDir: string): { root: string; paths: string[] } {
  const { content_dir: contentDir, snapshot_root: snapRoot } = manifest.layout;
  if (!isCleanAbsolute(snapRoot)) throw badFile(`layout.snapshot_root ${JSON.stringify(snapRoot)} is not a plain absolute path`);
  const content = contentDir === '' ? unpacked : path.join(unpacked, contentDir);
  let root = content;
  if (snapRoot !== '/') {
    root = treeDir;
    fs.mkdirSync(path.join(treeDir, path.dirname(snapRoot)), { recursive: true, mode: 0o700 });
    fs.renameSync(content, path.join(treeDir, snapRoot));
  }
  const named = manifest.snapshot.paths;
  for (const p of named) if (!isCleanAbsolute(p) || p === '/') throw badFile(`snapshot path ${JSON.stringify(p)} is not a plain absolute path below /`);
  // An export of a subtree holds the snapshot paths below its root, or the root alone when it lies inside one of them.
  const candidates = snapRoot === '/' ? named : [...named.filter((p) => within(p, snapRoot) && p !== snapRoot), ...(named.some((p) => within(snapRoot, p)) ? [snapRoot] : [])];
  const paths = candidates.filter((p) => fs.lstatSync(path.join(root, p), { throwIfNoEntry: false }) !== undefined);
  if (paths.length === 0) throw badFile(`the file holds none of the paths its manifest names (${named.join(', ') || 'none'})`);
  return { root, paths };
}

interface Stored {
  snapshotId: string;
  files: number;
  bytes: number;
  bytesAdded: number;
  errors: number;
  warnings: string[];
}

/** The engine's backup of the unpacked tree, under a shared lock as every backup takes. */
async function storeSnapshot(repo: Repository, opts: Parameters<typeof backup>[1]): Promise<Stored> {
  const warnings: string[] = [];
  const signal = opts.signal ?? new AbortController().signal;
  const r = await retryOnLockConflict(signal, () => withLockOverlapped(repo, async (lockLost) => {
    await repo.loadIndex();
    return backup(repo, { ...opts, signal: AbortSignal.any([signal, lockLost]), onWarning: (p, m) => warnings.length < 5 && warnings.push(`${p}: ${m}`) });
  }));
  const s = r.summary;
  return { snapshotId: r.snapshotId, files: s.total_files_processed, bytes: s.total_bytes_processed, bytesAdded: s.data_added, errors: r.errors, warnings };
}

async function openRepo(repos: RepositoryService, id: number): Promise<Repository> {
  try {
    return await repos.open(id);
  } catch (err) {
    throw new CoreError('unavailable', `the instance's repository cannot be opened: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** Removes what a failed upload left: its snapshot (if one was saved) and its record. */
async function undo(ctx: ImportContext, backupId: number, repo: Repository | undefined, snapshotId: string | undefined): Promise<void> {
  if (repo && snapshotId) {
    const id = snapshotId;
    await retryOnLockConflict(AbortSignal.timeout(60_000), () => withLock(repo, false, () => repo.backend.remove({ type: 'snapshot', name: id })), 60_000)
      .catch(() => undefined);
  }
  await ctx.catalog.backups.remove(backupId).catch(() => undefined);
}

/**
 * Each part of the target instance that the snapshot holds, at its path in the snapshot: by name
 * from the file's own part paths first (a device backup uploaded into `device`), else the part's
 * own path when the snapshot holds it. Restores map parts by these.
 */
function partPaths(instance: Instance, recorded: JsonValue | undefined, paths: string[]): Record<string, string> {
  const inSnapshot = (p: string): boolean => paths.some((s) => within(p, s) || within(s, p));
  const fromFile = typeof recorded === 'object' && recorded !== null && !Array.isArray(recorded) ? recorded : {};
  const out: Record<string, string> = {};
  for (const part of partsOf(instance.parts)) {
    const named = fromFile[part.name];
    if (typeof named === 'string' && isCleanAbsolute(named) && inSnapshot(named)) out[part.name] = named;
    else if (inSnapshot(part.path)) out[part.name] = part.path;
  }
  return out;
}

function snapshotDate(m: BackupManifest): Date {
  const d = new Date(m.snapshot.time);
  if (Number.isNaN(d.getTime())) throw badFile(`snapshot.time ${JSON.stringify(m.snapshot.time)} is not a time this server can store`);
  return d;
}

function within(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

function isCleanAbsolute(p: string): boolean {
  return p.startsWith('/') && !p.includes('\0') && path.posix.normalize(p) === p && (p === '/' || !p.endsWith('/'));
}

function text(v: JsonValue | undefined): string | undefined {
  return typeof v === 'string' && !v.includes('\0') && v.length <= 256 ? v : undefined;
}

function limited(v: JsonValue | undefined, max: number): string | null {
  return typeof v === 'string' && v.length <= max && !v.includes('\0') ? v : null;
}

function badFile(message: string): CoreError {
  return new CoreError('invalid', `body: not a valid backup file: ${message}`, 'body');
}

function coreErrorOf(err: unknown): unknown {
  if (err instanceof CoreError) return err;
  if (err instanceof BackupFileError) return new CoreError('invalid', `body: not a valid backup file (${err.reason}): ${err.message}`, 'body', { cause: err });
  if (err instanceof CancelledError) return new CoreError('invalid', 'body: the upload was cancelled', 'body', { cause: err });
  if (err instanceof NothingToBackUpError) return badFile(err.message);
  if (err instanceof LockConflictError) return new CoreError('unavailable', `the repository is locked: ${err.message}`, undefined, { cause: err, retryAfterSeconds: 30 });
  return err;
}

/** Removes a directory tree the import made, opening up directories the file made read-only first. */
function removeTree(dir: string): void {
  const open = (p: string): void => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) fs.chmodSync(p, (st.mode & 0o7777) | 0o700);
    for (const n of fs.readdirSync(p)) open(path.join(p, n));
  };
  try {
    open(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // Nothing of it is in the catalog or the repository; a leftover here only takes disk space.
  }
}
