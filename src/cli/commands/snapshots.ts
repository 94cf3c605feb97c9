import { type Snapshot, shortId } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON } from '../context.js';
import { formatBytes, formatSnapshotTime, formatTable, plural } from '../format.js';

export interface SnapshotsOptions {
  host?: string;
  tag?: string[];
  path?: string[];
  latest?: number;
}

/** A snapshot as restic's `--json` prints it: its stored fields, `id` and `short_id`. */
export function snapshotJSON(s: Snapshot): Snapshot & { short_id: string } {
  return { ...s, short_id: shortId(s.id) };
}

/**
 * restic's snapshot table: ID, Time, Host, Tags, (Reasons,) Paths, and Size (the bytes the backup
 * processed) as restic 0.17 and later add it when the snapshots record it. Oldest first; several
 * paths take a line each, and then a blank line separates the snapshots.
 */
export function snapshotTable(list: readonly Snapshot[], reasons?: ReadonlyMap<Snapshot, readonly string[]>): string[] {
  const sorted = [...list].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const withSize = sorted.some((s) => s.summary);
  const header = ['ID', 'Time', 'Host      ', 'Tags      ', ...(reasons ? ['Reasons'] : []), 'Paths', ...(withSize ? ['Size'] : [])];
  const rows = sorted.map((s) => [
    shortId(s.id), formatSnapshotTime(s.time), s.hostname ?? '', (s.tags ?? []).join(','),
    ...(reasons ? [(reasons.get(s) ?? []).join('\n')] : []),
    s.paths.join('\n'),
    ...(withSize ? [s.summary ? formatBytes(s.summary.total_bytes_processed) : ''] : []),
  ]);
  return formatTable(header, rows, { footer: [plural(sorted.length, 'snapshot')], blankBetweenRows: sorted.some((s) => s.paths.length > 1) });
}

export async function snapshotsCommand(g: GlobalOptions, o: SnapshotsOptions): Promise<number> {
  const repo = await openRepo(g);
  let list = (await repo.listSnapshots()).filter((s) =>
    (o.host === undefined || s.hostname === o.host) &&
    (!o.tag?.length || o.tag.every((t) => s.tags?.includes(t))) &&
    (!o.path?.length || o.path.every((p) => s.paths.includes(p))));
  if (o.latest !== undefined) list = list.slice(0, o.latest);
  // Oldest first, as restic prints them.
  list.reverse();
  if (g.json) {
    printJSON(list.map(snapshotJSON));
    return 0;
  }
  process.stdout.write(snapshotTable(list).map((l) => `${l}\n`).join(''));
  return 0;
}
