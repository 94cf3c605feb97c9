/**
 * The adapter's side of Coffer's Kanto operations (core/kanto.ts owns the rest): following a job
 * to its end, and a backup's snapshot as Kanto's ZIP for an upload.
 */
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { type Actor, type Backup, type Core, type Job, KANTO_PART, isTerminal } from '../core/index.js';

/** Waits for a job to end, passing each update on; resolves with the final state. */
export function followJob(core: Core, jobId: number, onUpdate: (job: Job) => void, signal: AbortSignal): Promise<Job> {
  return new Promise((resolve, reject) => {
    const stop = core.jobs.follow(jobId, (job) => {
      onUpdate(job);
      if (isTerminal(job.state)) {
        signal.removeEventListener('abort', aborted);
        resolve(job);
      }
    });
    const aborted = () => {
      stop();
      reject(new Error('Coffer is shutting down'));
    };
    signal.addEventListener('abort', aborted, { once: true });
  });
}

/** Writes backup `backupId` (of `dir`) as Kanto's ZIP to `file`. */
export async function writeKantoZip(core: Core, actor: Actor, backup: Backup, file: string, signal: AbortSignal): Promise<number> {
  const root = partPath(backup);
  const download = await core.backupFiles.downloadKanto(actor, backup.id, root, signal);
  await pipeline(download.stream, fs.createWriteStream(file, { mode: 0o600 }), { signal });
  return download.size;
}

/** Where the directory was when the backup read it. */
function partPath(b: Backup): string {
  const recorded = b.extra?.['part_paths'];
  const p = typeof recorded === 'object' && recorded !== null ? (recorded as Record<string, unknown>)[KANTO_PART] : undefined;
  if (typeof p !== 'string') throw new Error(`backup ${b.id} is not a backup of a Kanto directory (it has no part '${KANTO_PART}')`);
  return p;
}
