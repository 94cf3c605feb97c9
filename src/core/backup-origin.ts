/**
 * Where a backup came from, as every surface and rule must read it. A backup Coffer made itself
 * records what it read; an uploaded backup file's claims (its paths, time, host, label) are the
 * uploader's words and stay information only: they never choose a restore destination, never date
 * the backup for retention and never match a Kanto correlation id.
 */
import type { Backup } from '../catalog/index.js';

/** The record's `extra` key under which an upload keeps what its file claimed. */
export const UPLOADED_KEY = 'uploaded';

/** Made from an uploaded backup file (any surface's upload), not read by Coffer from the instance. */
export function isUploaded(b: Pick<Backup, 'extra'>): boolean {
  const u = b.extra?.[UPLOADED_KEY];
  return u !== undefined && u !== null;
}

/**
 * Holds every file part of its instance as it was: made by Coffer, not partial, with files. Only
 * such a backup may be restored `exact` (deleting what it lacks): a partial one lacks by design.
 */
export function isWholeBackup(b: Pick<Backup, 'extra' | 'scope' | 'queryArgs' | 'includeFiles'>): boolean {
  return !isUploaded(b) && b.scope === 'full' && b.queryArgs === null && b.includeFiles;
}
