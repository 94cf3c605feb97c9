/**
 * `backup` and `restore` (KANTO.md 3.1, 3.3, with the corrections): checked and answered
 * at once, then carried out; one at a time, a second gets 409 (restore included, unlike Kanto).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backup } from '../core/index.js';
import { TransferOptionsError, type TransferOptions, displayUrl, downloadFile, downloadSource, extractKantoZip } from '../transfer/index.js';
import { correlationOf, ensureInstance, findByCorrelation, followJob, startBackup, writeKantoZip } from './coffer-backups.js';
import { type Continuation, type DeviceContext, errorMessage, objectNameFor, timestampedName, transferLimits } from './context.js';
import { chooseDirectory, requireExisting } from './directory-mode.js';
import { type OperationParams, executionFailed, givenOptions, parameterInvalid } from './params.js';
import { Uploads } from './uploads.js';

type Busy = 'backup' | 'restore';
const BUSY_MESSAGE: Record<Busy, string> = {
  backup: 'Backup operation is currently in progress!',
  restore: 'Restore operation is currently in progress!',
};

/** Share of the progress the repository backup takes; writing the ZIP is the rest. */
const BACKUP_SHARE = 90;

export class Operations {
  private busy: Busy | null = null;
  private generated = 0;

  constructor(private readonly ctx: DeviceContext, private readonly uploads: Uploads) {}

  backup(p: OperationParams): Continuation {
    const requested = p.options['backup.dir'] || undefined;
    const dir = chooseDirectory(requested, this.ctx.settings.dir, this.ctx.settings.mode);
    requireExisting(dir, requested ?? dir);
    const options = givenOptions(p.options);
    const provider = Uploads.providerOf(options);
    this.claim('backup');
    const correlationId = p.correlationId || `backup_restore-id-${++this.generated}`;
    this.ctx.lastOperation.begin(correlationId, 'BACKUP_STARTED');
    return async () => {
      try {
        const file = await this.backupToZip(dir, correlationId);
        this.ctx.lastOperation.end(correlationId, 'BACKUP_FINISHED', { progress: 100 });
        this.busy = null;
        if (provider) this.uploads.direct(correlationId, file, options);
        else this.uploads.request(correlationId, [file], p.options);
      } catch (err) {
        this.ctx.log(`Kanto backup ${correlationId} of ${dir} failed`, err);
        this.ctx.lastOperation.end(correlationId, 'BACKUP_FAILED', { message: errorMessage(err) });
      } finally {
        this.busy = null;
      }
    };
  }

  async restore(p: OperationParams): Promise<Continuation> {
    const requested = p.options['backup.dir'] || undefined;
    const dir = chooseDirectory(requested, this.ctx.settings.dir, this.ctx.settings.mode);
    const options = givenOptions(p.options);
    let source: string | null;
    try {
      source = downloadSource(options);
    } catch (err) {
      if (err instanceof TransferOptionsError) throw parameterInvalid(400, err.message);
      throw err as Error;
    }
    if ((source === 'aws' && !options['aws.object.key']) || (source === 'azure' && !options['azure.blob.name'])) {
      // The object is then the one the backup with this correlation id was uploaded as (objectNameFor).
      if (!p.correlationId) throw parameterInvalid(400, `required parameter '${source === 'aws' ? 'aws.object.key' : 'azure.blob.name'}' missing or empty (or name the backup by its correlationId)`);
    }
    let fromCoffer: Backup | null = null;
    if (source === null) {
      if (!p.correlationId) throw parameterInvalid(400, 'Download URL not specified!');
      fromCoffer = await findByCorrelation(this.ctx.core, this.ctx.actor(), dir, p.correlationId);
      if (!fromCoffer) throw parameterInvalid(400, `Download URL not specified! (the options name no download source, and Coffer has no backup with correlation ID '${p.correlationId}')`);
    }
    this.claim('restore');
    const correlationId = p.correlationId || `backup_restore-id-${++this.generated}`;
    this.ctx.lastOperation.begin(correlationId, 'RESTORE_STARTED');
    return async () => {
      const file = path.join(this.ctx.settings.storageDir, 'downloads', timestampedName('backup'));
      try {
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        if (fromCoffer) await writeKantoZip(this.ctx.core, this.ctx.actor(), fromCoffer, file, this.ctx.signal);
        else await this.download(options, file, correlationId, p.correlationId);
        await fs.promises.mkdir(dir, { recursive: true });
        const unpacked = await extractKantoZip(file, dir, { signal: this.ctx.signal });
        this.ctx.lastOperation.end(correlationId, 'RESTORE_FINISHED', { progress: 100 });
        await this.ctx.core.audit.record(this.ctx.actor(), 'kanto.restore', `kanto:${correlationId}`, {
          dir, source: fromCoffer ? `backup:${fromCoffer.id}` : source, ...sourceDetail(options, source),
          files: unpacked.files, directories: unpacked.directories,
        });
      } catch (err) {
        this.ctx.log(`Kanto restore ${correlationId} into ${dir} failed`, err);
        this.ctx.lastOperation.end(correlationId, 'RESTORE_FAILED', { message: errorMessage(err) });
      } finally {
        this.busy = null;
        await fs.promises.rm(file, { force: true }).catch(() => undefined);
      }
    };
  }

  private claim(what: Busy): void {
    if (this.busy) throw executionFailed(409, BUSY_MESSAGE[this.busy]);
    this.busy = what;
  }

  /** A Coffer backup of the directory's instance, then its snapshot as Kanto's ZIP in the staging directory. */
  private async backupToZip(dir: string, correlationId: string): Promise<string> {
    const { core } = this.ctx;
    const actor = this.ctx.actor();
    const instance = await ensureInstance(core, actor, dir);
    const { backup, job } = await startBackup(core, actor, instance, correlationId);
    await core.audit.record(actor, 'kanto.backup', `backup:${backup.id}`, { correlation_id: correlationId, dir, instance });
    const ended = await followJob(core, job.id, (j) => {
      const total = j.progress.bytes_total;
      if (total) this.ctx.lastOperation.progress(correlationId, (j.progress.bytes_done / total) * BACKUP_SHARE);
    }, this.ctx.signal);
    if (ended.state !== 'success') throw new Error(`the backup of ${dir} failed: ${ended.error ?? ended.state}`);
    const done = await core.backups.get(actor, backup.id);
    await fs.promises.mkdir(this.uploads.backupsDir, { recursive: true });
    const file = path.join(this.uploads.backupsDir, await freeName(this.uploads.backupsDir));
    try {
      await writeKantoZip(core, actor, done, file, this.ctx.signal);
    } catch (err) {
      await fs.promises.rm(file, { force: true });
      throw new Error(`backup ${done.id} (${correlationOf(done)}) could not be written as a ZIP: ${errorMessage(err)}`, { cause: err });
    }
    return file;
  }

  private async download(options: TransferOptions, file: string, correlationId: string, requested: string): Promise<void> {
    await downloadFile(options, file, {
      ...transferLimits(this.ctx.settings),
      signal: this.ctx.signal,
      ...(requested ? { objectName: objectNameFor(requested) } : {}),
      onProgress: (done, total) => this.ctx.lastOperation.progress(correlationId, total > 0 ? (done / total) * BACKUP_SHARE : 0),
    });
  }
}

/** Where a restore's download came from, for the audit log: the URL without user info and query, or the object. */
function sourceDetail(options: TransferOptions, source: string | null): Record<string, string> {
  if (source === 'https' && options['https.url']) return { url: displayUrl(options['https.url'].trim()) };
  if (source === 'aws') return { bucket: options['aws.s3.bucket'] ?? '', ...(options['aws.object.key'] ? { key: options['aws.object.key'] } : {}) };
  if (source === 'azure') return { container: options['azure.blob.container'] ?? '', ...(options['azure.blob.name'] ? { blob: options['azure.blob.name'] } : {}) };
  return {};
}

/** Kanto's name, with `_01` … on a collision. */
async function freeName(dir: string): Promise<string> {
  const base = timestampedName('backup');
  for (let i = 0; i <= 10; i++) {
    const name = i === 0 ? base : base.replace(/\.zip$/, `_${String(i).padStart(2, '0')}.zip`);
    if (!fs.existsSync(path.join(dir, name))) return name;
  }
  throw new Error(`no free file name for a backup in ${dir}`);
}
