/**
 * What a Kanto operation means in Coffer: a directory is an instance (made on first use) with one
 * directory part; a backup is a Coffer backup of it labelled with the correlation id; its backup
 * file is the snapshot of that directory in Kanto's ZIP layout.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Actor, type Backup, type Core, CoreError, type Job, isTerminal, isUploaded } from '../core/index.js';

/** The part every Kanto instance has: the directory. */
export const KANTO_PART = 'dir';
/** Coffer's labels are at most 64 characters; a longer correlation id is kept whole in `extra`. */
const LABEL_MAX = 64;

/** A stable instance name per directory: readable prefix, a hash for uniqueness. */
export function instanceNameFor(dir: string): string {
  const base = path.basename(dir).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32) || 'root';
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 10);
  return `kanto-${base}-${hash}`;
}

export async function ensureInstance(core: Core, actor: Actor, dir: string): Promise<string> {
  const name = instanceNameFor(dir);
  try {
    await core.instances.get(actor, name);
  } catch (err) {
    if (!(err instanceof CoreError && err.code === 'not_found')) throw err;
    await core.instances.put(actor, name, { description: `Eclipse Kanto directory ${dir}`, parts: [{ name: KANTO_PART, kind: 'directory', path: dir }] }).catch(async (e: unknown) => {
      // Two commands at once may both have found it missing.
      if (!(e instanceof CoreError && e.code === 'conflict')) throw e;
    });
  }
  return name;
}

/** Starts a backup of the directory's instance; resolves with its record and job. */
export async function startBackup(core: Core, actor: Actor, instance: string, correlationId: string): Promise<{ backup: Backup; job: Job }> {
  return core.backups.create(actor, {
    instance, type: 'incremental', label: correlationId.slice(0, LABEL_MAX) || null,
    description: 'Eclipse Kanto backup over MQTT', extra: { kanto_correlation_id: correlationId },
  });
}

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

/**
 * The correlation id Coffer recorded when it made the backup for a Kanto command; null for any
 * other backup. Labels never count (anyone who may create or upload a backup chooses one), nor do
 * uploaded files, whose metadata is the uploader's word.
 */
export function correlationOf(b: Backup): string | null {
  if (isUploaded(b)) return null;
  const c = b.extra?.['kanto_correlation_id'];
  return typeof c === 'string' ? c : null;
}

/**
 * The newest successful backup with this correlation id: first among the directory's own
 * backups, then among every Kanto directory's (a restore may target another directory).
 */
export async function findByCorrelation(core: Core, actor: Actor, dir: string, correlationId: string): Promise<Backup | null> {
  const own = await searchBackups(core, actor, correlationId, instanceNameFor(dir));
  if (own) return own;
  return searchBackups(core, actor, correlationId);
}

async function searchBackups(core: Core, actor: Actor, correlationId: string, instance?: string): Promise<Backup | null> {
  const pageSize = 200;
  for (let offset = 0; ; offset += pageSize) {
    const page = await core.backups.list(actor, { ...(instance ? { instance } : {}), status: 'success', limit: pageSize, offset });
    const hit = page.items.find((b) => b.instance.startsWith('kanto-') && correlationOf(b) === correlationId);
    if (hit) return hit;
    if (offset + pageSize >= page.total) return null;
  }
}
