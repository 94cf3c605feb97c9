/** forget: apply a keep policy to the repository's snapshots and delete the others. */
import { type ForgetGroup, type ForgetPolicy, type GroupBy, planForget, timeOffsetOf } from './forget-policy.js';
import { mapLimit } from './concurrency.js';
import { type Repository, type SnapshotFilter, matchesFilter } from './repository.js';
import type { Snapshot } from './snapshot.js';
import { parseTime } from './time.js';


export interface ForgetOptions {
  policy: ForgetPolicy;
  groupBy?: GroupBy;
  filter?: SnapshotFilter;
  dryRun?: boolean;
  now?: Date;
}

export interface ForgetSnapshot {
  snapshot: Snapshot;
  id: string;
  time: Date;
  hostname: string;
  paths: string[];
  tags?: string[];
  timeOffsetMinutes?: number;
}

export async function forget(repo: Repository, opts: ForgetOptions): Promise<ForgetGroup<ForgetSnapshot>[]> {
  const all = (await repo.listSnapshots()).filter((s) => matchesFilter(s, opts.filter ?? {}));
  const items: ForgetSnapshot[] = all.map((s) => ({
    snapshot: s,
    id: s.id,
    time: parseTime(s.time),
    hostname: s.hostname ?? '',
    paths: s.paths,
    ...(s.tags ? { tags: s.tags } : {}),
    ...(timeOffsetOf(s.time) !== undefined ? { timeOffsetMinutes: timeOffsetOf(s.time)! } : {}),
  }));
  const groups = planForget(items, opts.policy, { groupBy: opts.groupBy, now: opts.now });
  if (!opts.dryRun) {
    const remove = groups.flatMap((g) => g.remove.map((s) => s.id));
    await mapLimit(remove, 8, (id) => repo.backend.remove({ type: 'snapshot', name: id }));
  }
  return groups;
}
