/**
 * Uploading a backup file: the ZIP spooled to a file under the data directory (bounded memory, a
 * size limit, an idle limit), checked and unpacked into a staging directory by extractBackupZip
 * (zip slip, zip bombs, free space, symlinks out of their part, checksums, truncation), then stored
 * as a new snapshot of the instance whose paths are the original ones from the manifest. The backup
 * record exists from the start with status `uploading`; on any failure the record, any snapshot and
 * every temporary file go again, so a half-imported backup is never left behind.
 *
 * What the file says about itself (its time, host, device, label, paths) is the uploader's word:
 * it is kept under `extra.uploaded` as information only (src/core/backup-origin.ts). The backup is
 * dated by its arrival, described by the request, and carries this server's identity.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Backup, BackupPatch, Catalog, Instance } from '../catalog/index.js';
import {
  type BackupManifest, BackupFileError, CancelledError, type JsonValue, LockConflictError, NothingToBackUpError, type Repository,
  backup, extractBackupZip, symlinkOutsideRootReason, withLock, withLockOverlapped,
} from '../repo/index.js';
import type { AuditLog } from './audit.js';
import { backupFileSizeOr } from './backup-file-meta.js';
import type { BackupService } from './backups.js';
import { CoreError } from './errors.js';
import { UPLOADED_KEY } from './backup-origin.js';
import { BACKUP_TAG, INSTANCE_TAG } from './jobs/backup-executor.js';
import { retryOnLockConflict } from './jobs/lock-retry.js';
import { partsOf } from './parts.js';
import type { Actor } from './permissions.js';
import type { RepositoryService } from './repositories.js';
import { DEFAULT_TRANSFER_IDLE_MS, checkFreeSpace, defaultMaxUnpackedBytes } from './upload-limits.js';

export interface UploadOptions {
  /** Default: the built-in instance `device`. */
  instance?: string;
  /** Default: none (the file's own are kept as information under `extra.uploaded`). */
  description?: string | null;
  label?: string | null;
}

export interface UploadSettings {
  /** Where uploads are spooled and unpacked (a directory below the data directory). */
  workDir: string;
  /** Largest accepted upload in bytes. */
  maxUploadBytes: number;
  /** Largest total one file may unpack to, in bytes (default: 20 × maxUploadBytes). */
  maxUnpackedBytes?: number;
  /** An upload whose body pauses this long is abandoned (default 60 s). */
  idleMs?: number;
  /** Uploads this process runs at once (default 4). */
  maxConcurrent?: number;
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

/** An upload some process is still receiving: its record is `uploading` and its heartbeat recent. */
export function isLiveUpload(b: Pick<Backup, 'status' | 'updatedAt'>, now = Date.now()): boolean {
  return b.status === 'uploading' && now - Date.parse(b.updatedAt) <= ABANDONED_AFTER_MS;
}

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
    await spool(body, zip, { max: ctx.settings.maxUploadBytes, idleMs: ctx.settings.idleMs ?? DEFAULT_TRANSFER_IDLE_MS }, signal);
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked, { mode: 0o700 });
    const manifest = await unpack(zip, unpacked, ctx.settings.maxUnpackedBytes ?? defaultMaxUnpackedBytes(ctx.settings.maxUploadBytes), signal);
    fs.rmSync(zip, { force: true }); // the disk space is needed for the unpacked tree's packs
    checkPartSymlinks(manifest);
    const { root, paths } = snapshotTree(manifest, unpacked, path.join(work, 'tree'));

    const instance = await ctx.catalog.instances.byId(record.instanceId);
    if (!instance) throw new CoreError('not_found', `instance ${record.instance} no longer exists`, 'instance');
    repo = await openRepo(ctx.repos, record.repositoryId);
    // Dated by its arrival: a file's own time could place it before or after every genuine backup.
    const time = new Date();
    const r = await storeSnapshot(repo, {
      paths, root, host: record.hostname, time, tags: [`${INSTANCE_TAG}${instance.name}`, `${BACKUP_TAG}${record.id}`, 'full', UPLOAD_TAG],
      ...(ctx.settings.engineWorkers !== undefined ? { workers: ctx.settings.engineWorkers } : {}), ...(signal ? { signal } : {}),
    });
    snapshotId = r.snapshotId;
    if (r.errors > 0) throw new CoreError('internal', `${r.errors} unpacked entries could not be read back: ${r.warnings.join('; ')}`);

    const done = {
      status: 'success', statusInfo: null, snapshotId: r.snapshotId, backupTime: time.toISOString(),
      files: r.files, bytesAdded: r.bytesAdded,
      extra: {
        // Where each part's content lies in the snapshot (a source location, never a restore destination of an upload).
        part_paths: partPaths(instance, manifest.metadata['part_paths'], paths),
        [UPLOADED_KEY]: fileClaims(manifest),
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
 * ABANDONED_AFTER_MS, and staging directories of this data directory whose record is gone. At the
 * start of a process whose catalog no other process shares, every upload is one a crash left
 * (none can be running yet), so all of them go at once.
 */
export async function sweepAbandonedUploads(ctx: Pick<ImportContext, 'catalog' | 'settings'>, o: { atStart?: boolean } = {}): Promise<void> {
  const all = o.atStart === true && !ctx.catalog.capabilities.sharedByProcesses;
  const abandoned = (b: Backup): boolean => all || !isLiveUpload(b);
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

interface BodyLimits {
  max: number;
  idleMs: number;
}

/**
 * Counts bytes on their way to disk and refuses one past the limit; fails when no byte arrived
 * for `idleMs` (a client that trickles or stalls would hold a quota slot and an upload slot forever).
 */
class BodyGuard extends Transform {
  private count = 0;
  /** Undefined when idleMs is 0 (no idle limit). */
  private readonly idle: NodeJS.Timeout | undefined;
  constructor(private readonly limits: BodyLimits) {
    super();
    if (limits.idleMs > 0) {
      this.idle = setTimeout(() => this.destroy(new CoreError('invalid',
        `body: no data arrived for ${limits.idleMs / 1000} s; the upload was abandoned (serve setting transfer-idle-timeout)`, 'body')), limits.idleMs);
      this.idle.unref();
    }
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.idle?.refresh();
    this.count += chunk.length;
    if (this.count > this.limits.max) cb(new CoreError('invalid', `body: the backup file is larger than the ${this.limits.max} bytes this server accepts (serve setting max-upload-bytes)`, 'body'));
    else cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    clearTimeout(this.idle);
    cb();
  }
  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.idle);
    cb(err);
  }
}

/**
 * Writes the body to `file`. Past the limit (or on a cancel) the rest of the body is read and
 * dropped rather than the connection cut, so that the client still gets the answer saying why.
 */
async function spool(body: Readable, file: string, limits: BodyLimits, signal?: AbortSignal): Promise<void> {
  const limit = new BodyGuard(limits);
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

async function unpack(zip: string, target: string, maxTotalBytes: number, signal?: AbortSignal): Promise<BackupManifest> {
  const manifest = await extractBackupZip(zip, target, {
    maxTotalBytes, beforeUnpack: (declared) => checkFreeSpace(target, declared), ...(signal ? { signal } : {}),
  });
  if (manifest.metadata['kind'] !== undefined && manifest.metadata['kind'] !== 'coffer-instance-backup') {
    throw new CoreError('invalid', `body: this is not a backup of an instance (manifest metadata.kind is ${JSON.stringify(manifest.metadata['kind'])})`, 'body');
  }
  return manifest;
}

/**
 * Refuses a symlink that leads outside the snapshot path (the part) holding it. The unpacking
 * already refused links leaving the file; a link from one part into another, or from a part up into
 * the directories above it, would still be planted by a restore and followed by later backups.
 */
function checkPartSymlinks(manifest: BackupManifest): void {
  const { content_dir: contentDir, snapshot_root: snapRoot } = manifest.layout;
  const roots: string[] = [];
  for (const p of manifest.snapshot.paths) {
    if (!isCleanAbsolute(p) || !within(p, snapRoot) || p === snapRoot) continue;
    const rel = path.posix.relative(snapRoot, p);
    roots.push(contentDir === '' ? rel : `${contentDir}/${rel}`);
  }
  const why = symlinkOutsideRootReason(manifest.files, roots);
  if (why) throw new BackupFileError('symlink-escape', why);
}

/**
 * What the file claims about itself, kept as information: the uploader wrote every word of it.
 * Only strings of bounded length (and part paths as strings) are copied, so that the record never
 * carries the file's own objects (an adapter reading `extra` must find only what Coffer wrote there).
 */
function fileClaims(m: BackupManifest): Record<string, JsonValue> {
  const meta = m.metadata;
  const claimedPaths = meta['part_paths'];
  const partPathsClaimed: Record<string, string> = {};
  if (typeof claimedPaths === 'object' && claimedPaths !== null && !Array.isArray(claimedPaths)) {
    for (const [name, p] of Object.entries(claimedPaths).slice(0, 100)) {
      const v = text(p);
      if (text(name) !== undefined && v !== undefined) partPathsClaimed[name] = v;
    }
  }
  return {
    snapshot_id: text(m.snapshot.id) ?? null, snapshot_time: text(m.snapshot.time) ?? null, snapshot_paths: m.snapshot.paths.slice(0, 100).map((p) => text(p) ?? ''),
    hostname: text(meta['hostname']) ?? text(m.snapshot.hostname) ?? null,
    model: text(meta['model']) ?? null, serial: text(meta['serial']) ?? null, sw_version: text(meta['sw_version']) ?? null,
    label: text(meta['label']) ?? null, description: text(meta['description']) ?? null, instance: text(meta['instance']) ?? null,
    backup_id: typeof meta['backup_id'] === 'number' ? meta['backup_id'] : null,
    backup_time: text(meta['backup_time']) ?? null,
    part_paths: partPathsClaimed,
  };
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

function within(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

function isCleanAbsolute(p: string): boolean {
  return p.startsWith('/') && !p.includes('\0') && path.posix.normalize(p) === p && (p === '/' || !p.endsWith('/'));
}

function text(v: JsonValue | undefined): string | undefined {
  return typeof v === 'string' && !v.includes('\0') && v.length <= 256 ? v : undefined;
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
