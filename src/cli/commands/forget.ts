import { type ForgetPolicy, type GroupBy, forget, isEmptyPolicy, parseGroupBy, parseTagList, shortId, withLock } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say } from '../context.js';
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
        keep: gr.keep.map((s) => s.snapshot), remove: gr.remove.length ? gr.remove.map((s) => s.snapshot) : null,
        reasons: gr.keep.map((s) => ({ snapshot: s.snapshot, matches: gr.reasons.get(s) ?? [] })),
      })));
    } else {
      for (const gr of groups) {
        say(g, `snapshots for host ${gr.key.hostname}, paths [${(gr.key.paths ?? []).join(', ')}]:`);
        for (const s of gr.keep) say(g, `  keep   ${shortId(s.id)}  ${s.snapshot.time}  ${(gr.reasons.get(s) ?? []).join(', ')}`);
        for (const s of gr.remove) say(g, `  remove ${shortId(s.id)}  ${s.snapshot.time}`);
      }
    }
    const removed = groups.reduce((n, gr) => n + gr.remove.length, 0);
    if (!o.dryRun) say(g, `removed ${removed} snapshots`);
    if (o.prune && removed > 0) report(g, await runPrune(g, repo, { maxUnused: o.maxUnused, dryRun: !!o.dryRun }, signal), !!o.dryRun);
    return 0;
  });
}
