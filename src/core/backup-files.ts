/**
 * Backup files (docs/architecture.md): one backup downloaded as a ZIP that `unzip` opens, and a
 * ZIP uploaded back as a new backup. Both stream: a backup of many gigabytes goes either way in
 * constant memory. Shared by the native API and the dialects (Riverbed's file, Syncano's archive).
 */
import type { Readable } from 'node:stream';
import type { Backup, Catalog } from '../catalog/index.js';
import { BackupFileError, LockConflictError, RepoLock, type Repository, type ZipOptions, kantoZipOptions, planSnapshotZip, snapshotZipStream } from '../repo/index.js';
import type { AuditLog } from './audit.js';
import { backupFileName, backupFileOptions } from './backup-file-meta.js';
import { type UploadOptions, type UploadSettings, importBackupFile, sweepAbandonedUploads } from './backup-import.js';
import type { BackupService } from './backups.js';
import { CoreError, conflict, notFound } from './errors.js';
import { retryOnLockConflict } from './jobs/lock-retry.js';
import { type Actor, requirePermission } from './permissions.js';
import type { RepositoryService } from './repositories.js';
import { DEFAULT_MAX_CONCURRENT_UPLOADS, UploadSlots } from './upload-limits.js';

export interface BackupFileDownload {
  /** Exact length of `stream` in bytes. */
  size: number;
  filename: string;
  /** The ZIP; it fails (never ends short) if the repository cannot deliver a blob. */
  stream: Readable;
}

export type { UploadOptions } from './backup-import.js';

/** How long a download waits for a repository locked exclusively (a prune) before giving up. */
const DOWNLOAD_LOCK_WAIT_MS = 60_000;

export class BackupFileService {
  private readonly slots: UploadSlots;

  constructor(
    private readonly catalog: Catalog,
    private readonly repos: RepositoryService,
    private readonly backups: BackupService,
    private readonly audit: AuditLog,
    private readonly settings: UploadSettings,
  ) {
    this.slots = new UploadSlots(settings.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_UPLOADS);
  }

  /** Largest upload accepted, in bytes (the HTTP adapters lift their body limits to this for uploads). */
  get maxUploadBytes(): number {
    return this.settings.maxUploadBytes;
  }

  /** Permission backup.download. 404 not_found; 409 conflict when the backup is not (yet) successful. */
  async download(actor: Actor, backupId: number, signal?: AbortSignal): Promise<BackupFileDownload> {
    requirePermission(actor, 'backup.download');
    return this.open(backupId, signal);
  }

  /** Permission backup.download. The directory `root` of the backup in Eclipse Kanto's archive layout (the MQTT adapter's backup file). */
  async downloadKanto(actor: Actor, backupId: number, root: string, signal?: AbortSignal): Promise<BackupFileDownload> {
    requirePermission(actor, 'backup.download');
    return this.open(backupId, signal, kantoZipOptions(root, signal ? { signal } : {}));
  }

  /** The same without an actor, for holders of a signed link (Syncano's archive URL); the caller verified the link. */
  async downloadByLink(backupId: number, signal?: AbortSignal): Promise<BackupFileDownload> {
    return this.open(backupId, signal);
  }

  /**
   * Permission backup.create. `body` is the uploaded ZIP. Resolves with the new, successful backup;
   * a bad file → CoreError('invalid', …) (400) with nothing left in the catalog or repository;
   * all upload slots of this process busy → CoreError('unavailable') (503) with a time to retry after.
   */
  async upload(actor: Actor, o: UploadOptions, body: Readable, signal?: AbortSignal): Promise<Backup> {
    requirePermission(actor, 'backup.create');
    const release = this.slots.take();
    try {
      return await importBackupFile({ catalog: this.catalog, repos: this.repos, backups: this.backups, audit: this.audit, settings: this.settings }, actor, o, body, signal);
    } finally {
      release();
    }
  }

  /**
   * Clears what uploads of a process that died left behind (records, staging files). `atStart`: this
   * process is starting, so with a catalog of its own every upload left is a crash's, cleared at once.
   */
  async sweepAbandonedUploads(o: { atStart?: boolean } = {}): Promise<void> {
    await sweepAbandonedUploads({ catalog: this.catalog, settings: this.settings }, o);
  }

  private async open(backupId: number, signal?: AbortSignal, layout?: ZipOptions): Promise<BackupFileDownload> {
    const b = await this.catalog.backups.get(backupId);
    if (!b) throw notFound(`backup ${backupId}`);
    if (b.status !== 'success' || !b.snapshotId) throw conflict(`backup ${backupId} is ${b.status}; only a successful backup has a backup file`);
    let repo: Repository;
    try {
      repo = await this.repos.open(b.repositoryId);
    } catch (err) {
      throw new CoreError('unavailable', `the backup's repository cannot be opened: ${(err as Error).message}`, undefined, { cause: err });
    }
    // A shared lock for as long as the file streams, as restic's dump takes one: a prune must not
    // remove packs that the download still has to read.
    let lock: RepoLock;
    try {
      lock = await retryOnLockConflict(signal ?? AbortSignal.timeout(DOWNLOAD_LOCK_WAIT_MS), () => RepoLock.acquire(repo, false), DOWNLOAD_LOCK_WAIT_MS);
    } catch (err) {
      if (err instanceof LockConflictError) throw new CoreError('unavailable', `the repository is busy: ${err.message}`, undefined, { cause: err, retryAfterSeconds: 30 });
      throw err;
    }
    try {
      await repo.loadIndex();
      const snapshot = await repo.loadSnapshot(b.snapshotId);
      const plan = await planSnapshotZip(repo, snapshot, layout ?? backupFileOptions(b, signal));
      if (!layout && plan.size !== b.size) {
        // Only a backup made before sizes were those of the file (or a record edited since) gets here.
        await this.catalog.backups.update(b.id, { size: plan.size });
      }
      const stream = snapshotZipStream(plan, signal);
      stream.once('close', () => void lock.release().catch(() => undefined));
      return { size: plan.size, filename: backupFileName(b), stream };
    } catch (err) {
      await lock.release().catch(() => undefined);
      if (err instanceof BackupFileError) throw conflict(`backup ${backupId} cannot be written as a backup file: ${err.message}`);
      if (err instanceof CoreError) throw err;
      throw new CoreError('unavailable', `backup ${backupId} cannot be read from its repository: ${(err as Error).message}`, undefined, { cause: err });
    }
  }
}
