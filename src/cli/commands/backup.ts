import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { type BackupType, backup, backupStream, chooseParent, isBackupType, parseExcludeFile, shortId, withLockOverlapped } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say, warn } from '../context.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { formatBytes, plural } from '../format.js';
import { ProgressPrinter } from '../progress.js';

export interface BackupCommandOptions {
  type?: string;
  tag?: string[];
  host?: string;
  exclude?: string[];
  iexclude?: string[];
  excludeFile?: string[];
  stdin?: boolean;
  stdinFilename?: string;
  parent?: string;
  force?: boolean;
  workers?: string;
}

/** Patterns from --exclude-file, after the --exclude ones (order matters for `!` patterns). */
function readExcludeFiles(files: string[]): string[] {
  return files.flatMap((f) => {
    try {
      return parseExcludeFile(readFileSync(f, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read exclude file ${f}: ${(err as Error).message}`);
    }
  });
}

export async function backupCommand(g: GlobalOptions, paths: string[], o: BackupCommandOptions, signal: AbortSignal): Promise<number> {
  if (o.type !== undefined && !isBackupType(o.type)) throw new UsageError(`invalid --type ${JSON.stringify(o.type)}: use full, incremental or differential`);
  const type: BackupType = (o.type as BackupType | undefined) ?? 'incremental';
  if (o.stdin ? paths.length > 0 : paths.length === 0) throw new UsageError(o.stdin ? 'no paths may be given with --stdin' : 'nothing to back up: give at least one path');
  const workers = o.workers === undefined ? undefined : Number(o.workers);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) throw new UsageError('--workers must be a positive integer');
  const host = o.host ?? hostname();
  const tags = [...(o.tag ?? []), ...(o.type ? [type] : [])];
  const repo = await openRepo(g);
  return withLockOverlapped(repo, async (lockLost) => {
    const stop = AbortSignal.any([signal, lockLost]);
    await repo.loadIndex();
    const absPaths = o.stdin ? [`/${o.stdinFilename ?? 'stdin'}`] : paths.map((p) => path.resolve(p));
    const parent = o.force ? undefined : o.parent ? await repo.findSnapshot(o.parent) : await chooseParent(repo, type, host, absPaths);
    if (parent && !g.json) say(g, `using parent snapshot ${shortId(parent.id)}`);
    const printer = ProgressPrinter.for(!!g.json, 'backed up');
    let errors = 0;
    let result;
    if (o.stdin) {
      result = await backupStream(repo, process.stdin, {
        filename: o.stdinFilename ?? 'stdin', host, tags, ...(parent ? { parent } : {}),
        onProgress: (bytes) => printer.update({ filesDone: 0, bytesDone: bytes }),
      });
    } else {
      const r = await backup(repo, {
        paths, excludes: [...(o.exclude ?? []), ...readExcludeFiles(o.excludeFile ?? [])], iexcludes: o.iexclude ?? [], host, tags, ...(parent ? { parent } : {}), ...(workers !== undefined ? { workers } : {}),
        signal: stop, scan: printer.interactive,
        onProgress: (p) => printer.update(p),
        onWarning: (p, m) => {
          if (g.json) printJSON({ message_type: 'error', error: { message: m }, during: 'archival', item: p });
          else warn(`error: ${p}: ${m}`);
        },
      });
      errors = r.errors;
      result = r;
    }
    const s = result.summary;
    const done = { filesDone: s.total_files_processed, bytesDone: s.total_bytes_processed };
    printer.update({ ...done, filesTotal: done.filesDone, bytesTotal: done.bytesDone, errors }, true);
    printer.done();
    if (g.json) {
      printJSON({
        message_type: 'summary', ...s, total_duration: (Date.parse(s.backup_end) - Date.parse(s.backup_start)) / 1000,
        snapshot_id: result.snapshotId,
      });
    } else {
      say(g, `Files: ${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified`);
      say(g, `Dirs:  ${s.dirs_new} new, ${s.dirs_changed} changed, ${s.dirs_unmodified} unmodified`);
      say(g, `Added to the repository: ${formatBytes(s.data_added)} (${formatBytes(s.data_added_packed)} stored)`);
      say(g, `processed ${plural(s.total_files_processed, 'file')}, ${formatBytes(s.total_bytes_processed)}`);
      say(g, `snapshot ${shortId(result.snapshotId)} saved`);
    }
    if (errors > 0) {
      warn(`Warning: at least one source file could not be read (${plural(errors, 'error')})`);
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}
