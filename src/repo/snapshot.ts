/** Snapshots (design.rst 'Snapshots'): JSON in `snapshots/`, named by the hash of the sealed file. */
import type { ID } from './ids.js';
import { isId } from './ids.js';
import { IntegrityError } from './errors.js';
import { parseTimeNs } from './time.js';

/** restic's backup summary, stored in the snapshot by restic ≥ 0.17 and by Coffer. */
export interface SnapshotSummary {
  backup_start: string;
  backup_end: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  data_added_packed: number;
  total_files_processed: number;
  total_bytes_processed: number;
}

export interface SnapshotJSON {
  time: string;
  parent?: ID;
  tree: ID;
  paths: string[];
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[];
  tags?: string[];
  original?: ID;
  program_version?: string;
  summary?: SnapshotSummary;
}

/** A snapshot with its storage id. */
export interface Snapshot extends SnapshotJSON {
  id: ID;
}

export function parseSnapshot(json: unknown, id: ID): Snapshot {
  const s = json as Partial<SnapshotJSON> | null;
  if (!s || typeof s.time !== 'string' || !isId(s.tree) || !Array.isArray(s.paths)) {
    throw new IntegrityError(`snapshot ${id}: invalid shape`);
  }
  return { ...(s as SnapshotJSON), id };
}

export function snapshotTime(s: SnapshotJSON): number {
  return Number(parseTimeNs(s.time) / 1_000_000n);
}

/** Newest first; ties broken by id so the order is stable. */
export function sortNewestFirst<T extends Snapshot>(list: T[]): T[] {
  return list.sort((a, b) => snapshotTime(b) - snapshotTime(a) || (a.id < b.id ? -1 : 1));
}
