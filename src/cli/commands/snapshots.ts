import { shortId } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON } from '../context.js';

export interface SnapshotsOptions {
  host?: string;
  tag?: string[];
  path?: string[];
  latest?: number;
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
    printJSON(list.map((s) => ({ ...s, short_id: shortId(s.id) })));
    return 0;
  }
  const rows = list.map((s) => [shortId(s.id), s.time.replace('T', ' ').replace(/\.\d+/, '').slice(0, 19), s.hostname ?? '', (s.tags ?? []).join(','), s.paths.join(', ')]);
  const head = ['ID', 'Time', 'Host', 'Tags', 'Paths'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(fmt(head) + '\n' + '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)) + '\n');
  for (const r of rows) process.stdout.write(fmt(r) + '\n');
  process.stdout.write(`${list.length} snapshots\n`);
  return 0;
}
