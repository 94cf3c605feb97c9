/**
 * Uploads of backup ZIPs (KANTO.md 3.2): either at once, when the backup command named a provider,
 * or Kanto's two steps: an outbox `request` per file (`<parent>#1…#N`), then the backend's `start`
 * with the provider options. Also `cancel` (a waiting or running upload) and `trigger` (request
 * again every ZIP still kept).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TransferOptionsError, type TransferOptions, uploadFile, uploadProvider } from '../transfer/index.js';
import { type Continuation, type DeviceContext, errorMessage, objectNameFor, transferLimits } from './context.js';
import { outboxMessage } from './envelope.js';
import { type OperationParams, executionFailed, givenOptions, parameterInvalid } from './params.js';

interface Upload {
  id: string;
  parentId: string;
  file: string;
  state: 'waiting' | 'uploading';
  /** The key or blob name when the options name none (a backup's: see objectNameFor; a trigger's: the file name). */
  objectName: string | undefined;
  abort: AbortController;
  canceled?: { statusCode: string; message: string };
}

/** The providers an upload request offers (Kanto's fixed text). */
const OFFERED_PROVIDERS = 'aws, azure, generic';

export class Uploads {
  private readonly uploads = new Map<string, Upload>();
  private triggerCounter = 0;

  constructor(private readonly ctx: DeviceContext) {}

  get backupsDir(): string {
    return path.join(this.ctx.settings.storageDir, 'backups');
  }

  /** Throws a 400 when options name a provider incompletely; null when they name none. */
  static providerOf(options: TransferOptions): string | null {
    try {
      return uploadProvider(options);
    } catch (err) {
      if (err instanceof TransferOptionsError) throw parameterInvalid(400, err.message);
      throw err;
    }
  }

  /** Uploads with the provider the backup command named. */
  direct(parentId: string, file: string, options: TransferOptions): void {
    const u = this.register(parentId, 1, file, objectNameFor(parentId));
    void this.run(u, options);
  }

  /** Kanto's first step: one outbox `request` per file; `start` carries the provider. */
  request(parentId: string, files: string[], commandOptions: Record<string, string>, fromBackup = true): void {
    // Only `options.*` travel with the request (prefix removed), as Kanto's do.
    const extra = Object.fromEntries(Object.entries(commandOptions).filter(([k]) => k.startsWith('options.')).map(([k, v]) => [k.slice('options.'.length), v]));
    const tenant = this.ctx.tenantId();
    files.forEach((file, i) => {
      const u = this.register(parentId, i + 1, file, fromBackup && files.length === 1 ? objectNameFor(parentId) : undefined);
      this.ctx.publishEvent(outboxMessage(this.ctx.thingId(), this.ctx.settings.featureId, 'request', {
        correlationId: u.id,
        options: { ...extra, 'storage.providers': OFFERED_PROVIDERS, 'file.path': file },
      }, tenant ? { 'reply-to': `command/${tenant}` } : {}));
    });
  }

  start(p: OperationParams): Continuation {
    const u = this.uploads.get(p.correlationId);
    if (!u) {
      if ([...this.uploads.values()].some((x) => x.parentId === p.correlationId)) {
        throw executionFailed(500, `multi-file upload '${p.correlationId}' cannot be started - start the individual uploads`);
      }
      throw parameterInvalid(404, `upload with correlation ID '${p.correlationId}' not found`);
    }
    if (u.state !== 'waiting') throw executionFailed(500, `upload '${u.id}' is already started`);
    const options = givenOptions(p.options);
    // Kanto's rule for `start`: no storage.provider means the generic HTTP provider.
    if (Uploads.providerOf(options) === null) throw parameterInvalid(400, 'upload URL not specified');
    u.state = 'uploading';
    return () => this.run(u, options);
  }

  cancel(p: OperationParams): Continuation {
    const hit = [...this.uploads.values()].filter((u) => u.id === p.correlationId || u.parentId === p.correlationId);
    if (hit.length === 0) throw parameterInvalid(404, `upload with correlation ID '${p.correlationId}' not found`);
    for (const u of hit) {
      u.canceled = { statusCode: p.statusCode, message: p.message };
      if (u.state === 'uploading') {
        u.abort.abort(new Error(p.message || 'upload canceled'));
      } else {
        this.uploads.delete(u.id);
        this.ctx.lastUpload.end(u.parentId, 'CANCELED', { statusCode: p.statusCode, message: p.message });
      }
    }
    void this.ctx.core.audit.record(this.ctx.actor(), 'kanto.upload.cancel', `kanto:${p.correlationId}`, { uploads: hit.map((u) => u.id) });
    return undefined;
  }

  /** Requests again every ZIP that is kept (kept after success, or left by a failed or canceled upload). */
  async trigger(p: OperationParams): Promise<Continuation> {
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.backupsDir)).filter((n) => n.endsWith('.zip')).sort();
    } catch (err) {
      throw executionFailed(500, errorMessage(err));
    }
    const busy = new Set([...this.uploads.values()].filter((u) => u.state === 'uploading').map((u) => u.file));
    const files = names.map((n) => path.join(this.backupsDir, n)).filter((f) => !busy.has(f));
    const parentId = p.correlationId || `upload-id-${Math.floor(Date.now() / 1000) + this.triggerCounter++}`;
    return async () => this.request(parentId, files, p.options, false);
  }

  /** Aborts running uploads (shutdown); their ZIPs stay for a later `trigger`. */
  stop(): void {
    for (const u of this.uploads.values()) u.abort.abort(new Error('Coffer is shutting down'));
  }

  private register(parentId: string, n: number, file: string, objectName: string | undefined): Upload {
    const u: Upload = { id: `${parentId}#${n}`, parentId, file, state: 'waiting', objectName, abort: new AbortController() };
    this.uploads.get(u.id)?.abort.abort(new Error('replaced by a new upload with the same correlation id'));
    this.uploads.set(u.id, u);
    return u;
  }

  private async run(u: Upload, options: TransferOptions): Promise<void> {
    u.state = 'uploading';
    const status = this.ctx.lastUpload;
    const info = Object.fromEntries(Object.entries(options).filter(([k]) => k.startsWith('info.')).map(([k, v]) => [k.slice('info.'.length), v]));
    status.begin(u.parentId, 'UPLOADING', Object.keys(info).length ? (info as Record<string, string>) : null);
    try {
      const { location } = await uploadFile(u.file, options, {
        ...transferLimits(this.ctx.settings),
        signal: AbortSignal.any([u.abort.signal, this.ctx.signal]),
        ...(u.objectName ? { objectName: u.objectName } : {}),
        onProgress: (done, total) => status.progress(u.parentId, total > 0 ? (done / total) * 100 : 0),
      });
      if (!this.ctx.settings.keepUploaded) await fs.promises.rm(u.file, { force: true });
      status.end(u.parentId, 'SUCCESS', { progress: 100 });
      await this.ctx.core.audit.record(this.ctx.actor(), 'kanto.upload', `kanto:${u.id}`, { location, file: path.basename(u.file) });
    } catch (err) {
      if (u.canceled) status.end(u.parentId, 'CANCELED', { statusCode: u.canceled.statusCode, message: u.canceled.message });
      else status.end(u.parentId, 'FAILED', { message: errorMessage(err) });
      if (!u.canceled) this.ctx.log(`Kanto upload ${u.id} failed`, err);
    } finally {
      if (this.uploads.get(u.id) === u) this.uploads.delete(u.id);
    }
  }
}
