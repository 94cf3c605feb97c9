import { check, withLock } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say, warn } from '../context.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { plural } from '../format.js';

export interface CheckCommandOptions {
  readData?: boolean;
  readDataSubset?: string;
}

export async function checkCommand(g: GlobalOptions, o: CheckCommandOptions, signal: AbortSignal): Promise<number> {
  if (o.readData && o.readDataSubset) throw new UsageError('--read-data and --read-data-subset cannot be used together');
  const repo = await openRepo(g);
  return withLock(repo, false, async () => {
    const r = await check(repo, {
      ...(o.readData ? { readData: true } : {}), ...(o.readDataSubset ? { readDataSubset: o.readDataSubset } : {}), signal,
      onProgress: (p) => {
        if (!g.json && !g.quiet && process.stderr.isTTY) process.stderr.write(`\r${p.phase}: ${p.done}/${p.total}   `);
      },
    });
    if (!g.json && !g.quiet && process.stderr.isTTY) process.stderr.write('\n');
    if (g.json) {
      printJSON({ message_type: 'summary', errors: r.errors, warnings: r.warnings, snapshots: r.snapshots, packs: r.packs, blobs: r.blobs, packs_read: r.packsRead });
    } else {
      for (const w of r.warnings) warn(`warning: ${w.file ? `${w.file}: ` : ''}${w.message}`);
      for (const e of r.errors) warn(`error: ${e.file ? `${e.file}: ` : ''}${e.message}`);
      say(g, `checked ${plural(r.snapshots, 'snapshot')}, ${plural(r.packs, 'pack')}, ${plural(r.blobs, 'blob')}${r.packsRead ? `, read ${plural(r.packsRead, 'pack')}` : ''}`);
      say(g, r.errors.length === 0 ? 'no errors were found' : `${plural(r.errors.length, 'error')} ${r.errors.length === 1 ? 'was' : 'were'} found`);
    }
    return r.errors.length === 0 ? EXIT.ok : EXIT.fatal;
  });
}
