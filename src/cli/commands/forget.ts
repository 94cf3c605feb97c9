import {
  type ForgetGroup, type ForgetPolicy, type ForgetSnapshot, type GroupBy, type Snapshot, describePolicy, forget, isEmptyPolicy, parseGroupBy,
  parseTagList, shortId, withLock,
} from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say } from '../context.js';
import { plural } from '../format.js';
import { snapshotJSON, snapshotTable } from './snapshots.js';
import { report, runPrune } from './prune.js';

export interface ForgetCommandOptions {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag?: string[];
  host?: string;
  tag?: string[];
  path?: string[];
  groupBy?: string;
  dryRun?: boolean;
  prune?: boolean;
  maxUnused?: string;
}

export async function forgetCommand(g: GlobalOptions, o: ForgetCommandOptions, signal: AbortSignal): Promise<number> {
  const policy: ForgetPolicy = {
    last: o.keepLast, hourly: o.keepHourly, daily: o.keepDaily, weekly: o.keepWeekly, monthly: o.keepMonthly, yearly: o.keepYearly,
    within: o.keepWithin, withinHourly: o.keepWithinHourly, withinDaily: o.keepWithinDaily, withinWeekly: o.keepWithinWeekly,
    withinMonthly: o.keepWithinMonthly, withinYearly: o.keepWithinYearly,
    tags: o.keepTag?.map(parseTagList),
  };
  const groupBy: GroupBy | undefined = o.groupBy !== undefined ? parseGroupBy(o.groupBy) : undefined;
  const repo = await openRepo(g);
  if (isEmptyPolicy(policy)) {
    // As restic: with no policy nothing is removed.
    say(g, 'no policy was specified, no snapshots will be removed');
    if (g.json) printJSON([]);
    return 0;
  }
  return withLock(repo, true, async () => {
    const groups = await forget(repo, {
      policy, ...(groupBy ? { groupBy } : {}), dryRun: !!o.dryRun,
      filter: { ...(o.host ? { host: o.host } : {}), ...(o.path ? { paths: o.path } : {}), ...(o.tag ? { tags: o.tag } : {}) },
    });
    if (g.json) {
      printJSON(groups.map((gr) => ({
        tags: gr.key.tags, host: gr.key.hostname, paths: gr.key.paths,
        keep: gr.keep.map((s) => snapshotJSON(s.snapshot)), remove: gr.remove.length ? gr.remove.map((s) => snapshotJSON(s.snapshot)) : null,
        reasons: gr.keep.map((s) => ({ snapshot: snapshotJSON(s.snapshot), matches: gr.reasons.get(s) ?? [] })),
      })));
    } else {
      say(g, `Applying Policy: ${describePolicy(policy)}`);
      for (const gr of groups) printGroup(g, gr, groups.length > 1);
    }
    const removed = groups.flatMap((gr) => gr.remove.map((s) => shortId(s.id)));
    if (o.dryRun && removed.length > 0) say(g, `Would have removed the following snapshots:\n{${removed.join(' ')}}\n`);
    else if (removed.length > 0) say(g, `removed ${plural(removed.length, 'snapshot')}`);
    if (o.prune && removed.length > 0) report(g, await runPrune(g, repo, { maxUnused: o.maxUnused, dryRun: !!o.dryRun }, signal), !!o.dryRun);
    return 0;
  });
}

/** One group as restic prints it: "keep N snapshots:" with the reasons, then "remove N snapshots:". */
function printGroup(g: GlobalOptions, gr: ForgetGroup<ForgetSnapshot>, withHeader: boolean): void {
  if (withHeader) {
    const what = [
      ...(gr.key.hostname ? [`host [${gr.key.hostname}]`] : []),
      ...(gr.key.tags ? [`tags [${gr.key.tags.join(', ')}]`] : []),
      ...(gr.key.paths ? [`paths [${gr.key.paths.join(', ')}]`] : []),
    ];
    if (what.length > 0) say(g, `snapshots for (${what.join(', ')}):`);
  }
  if (gr.keep.length > 0) {
    const reasons = new Map<Snapshot, readonly string[]>(gr.keep.map((s) => [s.snapshot, gr.reasons.get(s) ?? []]));
    say(g, `keep ${plural(gr.keep.length, 'snapshot')}:`);
    for (const line of snapshotTable(gr.keep.map((s) => s.snapshot), reasons)) say(g, line);
    say(g, '');
  }
  if (gr.remove.length > 0) {
    say(g, `remove ${plural(gr.remove.length, 'snapshot')}:`);
    for (const line of snapshotTable(gr.remove.map((s) => s.snapshot))) say(g, line);
    say(g, '');
  }
}
