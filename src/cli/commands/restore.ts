import { restore, shortId, withLock } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say, warn } from '../context.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { formatBytes, plural } from '../format.js';
import { ProgressPrinter } from '../progress.js';

export interface RestoreCommandOptions {
  target?: string;
  include?: string[];
  exclude?: string[];
  host?: string;
  path?: string[];
  tag?: string[];
}

export async function restoreCommand(g: GlobalOptions, ref: string, o: RestoreCommandOptions, signal: AbortSignal): Promise<number> {
  if (!o.target) throw new UsageError('please specify a directory to restore to (--target)');
  const repo = await openRepo(g);
  return withLock(repo, false, async () => {
    const snap = await repo.findSnapshot(ref, { ...(o.host ? { host: o.host } : {}), ...(o.path ? { paths: o.path } : {}), ...(o.tag ? { tags: o.tag } : {}) });
    await repo.loadIndex();
    say(g, `restoring snapshot ${shortId(snap.id)} of ${snap.paths.join(', ')} to ${o.target}`);
    const printer = ProgressPrinter.for(!!g.json, 'restored');
    const started = Date.now();
    const r = await restore(repo, snap, {
      target: o.target!, include: o.include ?? [], exclude: o.exclude ?? [], signal,
      onProgress: (p) => printer.update({ ...p, filesTotal: p.filesTotal, bytesTotal: p.bytesTotal }),
      onWarning: (p, m) => (g.json ? printJSON({ message_type: 'error', error: { message: m }, item: p }) : warn(`ignoring error for ${p}: ${m}`)),
    });
    printer.update(r, true);
    printer.done();
    if (g.json) {
      printJSON({ message_type: 'summary', seconds_elapsed: Math.round((Date.now() - started) / 1000), total_files: r.filesTotal,
        files_restored: r.filesDone, total_bytes: r.bytesTotal, bytes_restored: r.bytesDone, errors: r.errors, snapshot_id: snap.id });
    } else say(g, `restored ${plural(r.filesDone, 'file')}, ${formatBytes(r.bytesDone)}${r.errors ? `, ${plural(r.errors, 'error')}` : ''}`);
    return r.errors > 0 ? EXIT.fatal : EXIT.ok;
  });
}
