/**
 * `backup` and `restore` (KANTO.md 3.1, 3.3, with the corrections): checked and answered
 * at once, then carried out. Both are Coffer jobs admitted by core (core/kanto.ts): a second
 * operation on the same directory gets 409 while the catalog has a job of it active, whichever
 * process or surface started that job (restore included, unlike Kanto).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Backup, CoreError, type CoreErrorCode, InstanceBusyError, type Job, kantoCorrelationOf } from '../core/index.js';
import { TransferOptionsError, downloadSource } from '../transfer/index.js';
import { followJob, writeKantoZip } from './coffer-backups.js';
import { type Continuation, type DeviceContext, errorMessage, objectNameFor, timestampedName } from './context.js';
import { chooseDirectory, requireExisting } from './directory-mode.js';
import { OperationError, type OperationParams, executionFailed, givenOptions, parameterInvalid } from './params.js';
import { Uploads } from './uploads.js';

const BUSY_MESSAGE = {
  backup: 'Backup operation is currently in progress!',
  restore: 'Restore operation is currently in progress!',
} as const;

/** How core's refusals are answered. */
const STATUS: Record<CoreErrorCode, number> = {
  invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, quota_exceeded: 409, too_many_attempts: 429, unavailable: 503, internal: 500,
};

/** Share of the progress the repository backup takes; writing the ZIP is the rest. */
const BACKUP_SHARE = 90;

export class Operations {
  private generated = 0;

  constructor(private readonly ctx: DeviceContext, private readonly uploads: Uploads) {}

  async backup(p: OperationParams): Promise<Continuation> {
    const requested = p.options['backup.dir'] || undefined;
    const dir = chooseDirectory(requested, this.ctx.settings.dir, this.ctx.settings.mode);
    requireExisting(dir, requested ?? dir);
    const options = givenOptions(p.options);
    const provider = Uploads.providerOf(options);
    const { correlationId, started } = await this.withCorrelationId(p, (id) => this.ctx.core.kanto.backup(this.ctx.actor(), dir, id));
    this.ctx.lastOperation.begin(correlationId, 'BACKUP_STARTED');
    return async () => {
      try {
        const file = await this.backupToZip(dir, correlationId, started.backup, started.job);
        this.ctx.lastOperation.end(correlationId, 'BACKUP_FINISHED', { progress: 100 });
        if (provider) this.uploads.direct(correlationId, file, options);
        else this.uploads.request(correlationId, [file], p.options);
      } catch (err) {
        this.ctx.log(`Kanto backup ${correlationId} of ${dir} failed`, err);
        this.ctx.lastOperation.end(correlationId, 'BACKUP_FAILED', { message: errorMessage(err) });
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
    const { core, settings } = this.ctx;
    let fromCoffer: Backup | null = null;
    if (source === null) {
      if (!p.correlationId) throw parameterInvalid(400, 'Download URL not specified!');
      fromCoffer = await core.kanto.findByCorrelation(this.ctx.actor(), dir, p.correlationId);
      if (!fromCoffer) throw parameterInvalid(400, `Download URL not specified! (the options name no download source, and Coffer has no backup with correlation ID '${p.correlationId}')`);
    }
    const { correlationId, started: job } = await this.withCorrelationId(p, (id) => core.kanto.restore(this.ctx.actor(), dir, id, fromCoffer
      ? { kind: 'backup', backupId: fromCoffer.id }
      : {
          kind: 'download', options, allowPrivateAddresses: settings.allowPrivateUrls, maxBytes: settings.maxDownloadBytes,
          ...(p.correlationId ? { objectName: objectNameFor(p.correlationId) } : {}),
        }));
    this.ctx.lastOperation.begin(correlationId, 'RESTORE_STARTED');
    return async () => {
      try {
        const ended = await followJob(core, job.id, (j) => {
          const total = j.progress.bytes_total;
          if (total) this.ctx.lastOperation.progress(correlationId, (j.progress.bytes_done / total) * 100);
        }, this.ctx.signal);
        if (ended.state === 'completed') this.ctx.lastOperation.end(correlationId, 'RESTORE_FINISHED', { progress: 100 });
        else this.ctx.lastOperation.end(correlationId, 'RESTORE_FAILED', { message: ended.error ?? `the restore job ended ${ended.state}` });
      } catch (err) {
        this.ctx.log(`Kanto restore ${correlationId} into ${dir} failed`, err);
        this.ctx.lastOperation.end(correlationId, 'RESTORE_FAILED', { message: errorMessage(err) });
      }
    };
  }

  /**
   * Admits an operation under the command's correlation id or Kanto's next generated one (a number
   * used only when the operation was admitted, so refused periodic runs leave no gaps).
   */
  private async withCorrelationId<T>(p: OperationParams, admit: (correlationId: string) => Promise<T>): Promise<{ correlationId: string; started: T }> {
    const n = p.correlationId ? undefined : ++this.generated;
    const correlationId = p.correlationId || `backup_restore-id-${n}`;
    try {
      return { correlationId, started: await admit(correlationId) };
    } catch (err) {
      if (n !== undefined && this.generated === n) this.generated--;
      throw answerFor(err);
    }
  }

  /** Follows the backup job, then writes its snapshot as Kanto's ZIP in the staging directory. */
  private async backupToZip(dir: string, correlationId: string, backup: Backup, job: Job): Promise<string> {
    const { core } = this.ctx;
    const actor = this.ctx.actor();
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
      throw new Error(`backup ${done.id} (${kantoCorrelationOf(done)}) could not be written as a ZIP: ${errorMessage(err)}`, { cause: err });
    }
    return file;
  }
}

/** Core's refusal as Kanto's answer: another job of the instance is Kanto's 409 with its words. */
function answerFor(err: unknown): unknown {
  if (err instanceof OperationError) return err;
  if (err instanceof InstanceBusyError) return executionFailed(409, BUSY_MESSAGE[err.busyWith === 'restore' ? 'restore' : 'backup']);
  if (err instanceof CoreError) return executionFailed(STATUS[err.code], err.message);
  return err;
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
