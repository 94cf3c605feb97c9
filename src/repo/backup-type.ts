/**
 * Backup types on a deduplicating store (docs/architecture.md). Every snapshot is complete; the type
 * only decides which earlier snapshot serves as parent, i.e. which files may be skipped unread.
 */
import { type Repository, matchesFilter } from './repository.js';
import type { Snapshot } from './snapshot.js';

export type BackupType = 'full' | 'incremental' | 'differential';

export const BACKUP_TYPES: readonly BackupType[] = ['full', 'incremental', 'differential'];

export function isBackupType(s: unknown): s is BackupType {
  return typeof s === 'string' && (BACKUP_TYPES as readonly string[]).includes(s);
}

/**
 * full: no parent (every file read). incremental: the latest snapshot of the same host and paths.
 * differential: the latest snapshot of the same host and paths tagged `full`.
 */
export async function chooseParent(repo: Repository, type: BackupType, host: string, paths: string[]): Promise<Snapshot | undefined> {
  if (type === 'full') return undefined;
  const candidates = (await repo.listSnapshots()).filter((s) => matchesFilter(s, { host, paths }));
  if (type === 'incremental') return candidates[0];
  return candidates.find((s) => s.tags?.includes('full'));
}
