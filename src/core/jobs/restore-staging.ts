/**
 * Where a restore job stages a part before moving it into place: a directory beside the part's
 * destination (so the move is a rename on the same file system), made by `mkdtemp`, which creates
 * a new directory of an unpredictable name, mode 0700, or fails: nothing planted in a parent
 * that others can write (a part under /tmp) is ever reused or followed.
 *
 * The name starts with `.coffer-restore-<job id>-`. That prefix, not a catalog record, is how the
 * staging of a job that died with its process is found at the next start: it needs no write before
 * staging begins (a crash between the two would leak the directory) and the destinations are
 * planned again from the same catalog rows. Only real directories owned by this process's user
 * are removed; a link or someone else's entry of that name is left alone.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

function prefixOf(jobId: number): string {
  return `.coffer-restore-${jobId}-`;
}

/**
 * A new, empty staging directory for job `jobId` beside `destination`. The destination's parent is
 * made when missing: it is a part's path an admin configured or one Coffer read itself.
 */
export async function makeStaging(destination: string, jobId: number): Promise<string> {
  const parent = path.dirname(destination);
  await fs.mkdir(parent, { recursive: true });
  return fs.mkdtemp(path.join(parent, prefixOf(jobId)));
}

/** Removes what job `jobId` staged beside any of `destinations`; resolves to how many directories went. */
export async function removeStaging(jobId: number, destinations: readonly string[]): Promise<number> {
  const prefix = prefixOf(jobId);
  const uid = process.getuid?.();
  let removed = 0;
  for (const parent of new Set(destinations.map((d) => path.dirname(d)))) {
    const entries = await fs.readdir(parent).catch(() => [] as string[]);
    for (const name of entries.filter((e) => e.startsWith(prefix))) {
      const at = path.join(parent, name);
      const st = await fs.lstat(at).catch(() => undefined);
      if (!st?.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      await fs.rm(at, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
