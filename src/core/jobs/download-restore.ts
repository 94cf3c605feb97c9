/**
 * Runs a restore job whose source is a Kanto ZIP at a provider (https, S3, Azure) rather than a
 * backup: the ZIP is downloaded and unpacked in a staging directory beside the instance's
 * directory, and merged into it only once all of it unpacked, so a broken or truncated download
 * changes nothing. The unpacking is transfer's (no entry leaves the staging directory); the move
 * is the restore executor's (no link followed).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Catalog } from '../../catalog/index.js';
import { type TransferOptions, downloadFile, extractKantoZip } from '../../transfer/index.js';
import { KANTO_PART } from '../kanto.js';
import { partsOf } from '../parts.js';
import type { ServerSecret } from '../secrets.js';
import type { Executor, JobContext, JobOutcome } from './executor.js';
import { type RestorePayload, isDownloadRestore } from './restore-executor.js';
import { makeStaging } from './restore-staging.js';
import { mergeTree } from './tree-merge.js';

export function downloadRestoreExecutor(catalog: Catalog, secret: ServerSecret): Executor {
  return async (ctx: JobContext): Promise<JobOutcome> => {
    const payload = ctx.job.payload as RestorePayload;
    if (!isDownloadRestore(payload)) return { state: 'failed', error: 'the job names no download' };
    const source = payload.source;
    const target = await catalog.instances.byId(ctx.job.instanceId);
    const to = target && partsOf(target.parts).find((p) => p.name === KANTO_PART)?.path;
    if (!to) return { state: 'failed', error: `the instance has no part named ${KANTO_PART} to restore into` };
    const options = JSON.parse(secret.open(source.options_sealed)) as TransferOptions;

    let stage: string | undefined;
    try {
      stage = await makeStaging(to, ctx.job.id);
      const zip = path.join(stage, 'download.zip');
      const tree = path.join(stage, 'tree');
      const { bytes } = await downloadFile(options, zip, {
        signal: ctx.signal, allowPrivateAddresses: source.allow_private_addresses, maxBytes: source.max_bytes,
        ...(source.object_name !== undefined ? { objectName: source.object_name } : {}),
        onProgress: (done, total) => ctx.progress({ files_done: 0, bytes_done: done, ...(total > 0 ? { bytes_total: total } : {}) }),
      });
      await fs.mkdir(tree);
      const unpacked = await extractKantoZip(zip, tree, { signal: ctx.signal });
      ctx.progress({ files_done: unpacked.files, files_total: unpacked.files, bytes_done: bytes, bytes_total: bytes });
      await mergeTree(tree, to, false);
      return { state: 'completed', error: null };
    } catch (err) {
      if (ctx.signal.aborted) {
        const r: unknown = ctx.signal.reason;
        return { state: 'failed', error: r instanceof Error ? r.message : 'canceled' };
      }
      return { state: 'failed', error: err instanceof Error ? err.message : String(err) };
    } finally {
      if (stage) await fs.rm(stage, { recursive: true, force: true }).catch(() => {});
    }
  };
}
