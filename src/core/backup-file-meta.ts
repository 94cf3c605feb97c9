/**
 * What a backup file says about its backup (manifest.json's `metadata`), built from the catalog
 * record alone, so that the size computed when the backup succeeds and the file downloaded later
 * are the same bytes long: nothing here may change after the backup's success.
 */
import type { Backup } from '../catalog/index.js';
import { type BackupMetadata, type Repository, type ZipOptions, planSnapshotZip } from '../repo/index.js';

/** `metadata.kind` of the files Coffer writes: a backup of an instance (not a configuration export). */
export const BACKUP_FILE_KIND = 'coffer-instance-backup';

export function backupFileMetadata(b: Backup): BackupMetadata {
  const partPaths = b.extra?.['part_paths'];
  return {
    kind: BACKUP_FILE_KIND,
    backup_id: b.id,
    instance: b.instance,
    type: b.type,
    scope: b.scope,
    label: b.label,
    description: b.description,
    created_at: b.createdAt,
    backup_time: b.backupTime,
    hostname: b.hostname,
    model: b.model,
    serial: b.serial,
    sw_version: b.swVersion,
    query_args: b.queryArgs,
    include_files: b.includeFiles,
    include_database: b.includeDatabase,
    // Where each part of the instance was at backup time: an upload maps them by name.
    part_paths: isStringRecord(partPaths) ? partPaths : {},
  };
}

export function backupFileOptions(b: Backup, signal?: AbortSignal): ZipOptions {
  return { metadata: backupFileMetadata(b), ...(signal ? { signal } : {}) };
}

/**
 * The exact length of a backup's file: the plan walks the snapshot's trees (no file content is
 * read). `b` must be the record as it is once successful (backup time, part paths set).
 */
export async function backupFileSize(repo: Repository, snapshotId: string, b: Backup): Promise<number> {
  const snapshot = await repo.loadSnapshot(snapshotId);
  return (await planSnapshotZip(repo, snapshot, backupFileOptions(b))).size;
}

/**
 * The size for the catalog when a backup succeeds; `fallback` when the snapshot cannot be written
 * as a backup file (a name a ZIP cannot hold): the download then explains why.
 */
export async function backupFileSizeOr(repo: Repository, b: Backup, fallback: number): Promise<number> {
  if (!b.snapshotId) return fallback;
  try {
    return await backupFileSize(repo, b.snapshotId, b);
  } catch {
    return fallback;
  }
}

/** A file name that is safe in a Content-Disposition header and on every file system. */
export function backupFileName(b: Backup): string {
  const time = (b.backupTime ?? b.createdAt).replace(/\.\d+/, '').replace(/[-:]/g, '');
  return `coffer-${b.instance}-backup-${b.id}-${time}.zip`.replace(/[^A-Za-z0-9._-]/g, '_');
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}
