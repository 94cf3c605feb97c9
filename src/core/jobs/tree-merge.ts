/**
 * Moves a restored tree from its staging directory into place. Entries are renamed, so each file
 * appears whole; a directory present on both sides is merged, and anything else in the way is
 * replaced (never followed: a symlink where the backup has a directory is removed, not entered).
 * With `exact`, entries the backup does not have are deleted, so the target ends up equal to it.
 *
 * No link is followed anywhere: `dst`'s parent must already be a real directory (the caller made
 * it with `ensureDirBeneath`, or it is a part's own directory), and below it every directory is
 * entered only after `lstat` showed a directory. Nothing is created on the way with a recursive
 * `mkdir`, which would follow a link planted in a middle component.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { setFileTimes, timeSpecFromNs } from '../../repo/index.js';

export async function mergeTree(src: string, dst: string, exact: boolean): Promise<void> {
  const s = await fs.lstat(src);
  const d = await fs.lstat(dst).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!d) return move(src, dst);
  if (s.isDirectory() && d.isDirectory()) {
    const entries = await fs.readdir(src);
    for (const e of entries) await mergeTree(path.join(src, e), path.join(dst, e), exact);
    if (exact) {
      const keep = new Set(entries);
      for (const e of await fs.readdir(dst)) if (!keep.has(e)) await fs.rm(path.join(dst, e), { recursive: true, force: true });
    }
    await fs.chmod(dst, s.mode & 0o7777);
    if (process.getuid?.() === 0) await fs.lchown(dst, s.uid, s.gid).catch(() => {});
    await copyTimes(src, dst);
    await fs.rmdir(src);
    return;
  }
  await fs.rm(dst, { recursive: true, force: true });
  await move(src, dst);
}

async function move(src: string, dst: string): Promise<void> {
  try {
    await fs.rename(src, dst);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    // The target is on another file system than the staging area (a mount point): copy, then remove.
    await fs.cp(src, dst, { recursive: true, verbatimSymlinks: true, force: true, errorOnExist: false });
    await copyTimesDeep(src, dst);
    await fs.rm(src, { recursive: true, force: true });
  }
}

/** `src`'s atime and mtime onto `dst` to the nanosecond (Node's own utimes goes through a double). */
async function copyTimes(src: string, dst: string): Promise<void> {
  const t = await fs.lstat(src, { bigint: true });
  setFileTimes(dst, timeSpecFromNs(t.atimeNs), timeSpecFromNs(t.mtimeNs));
}

/** After a copy across file systems: every entry's times, children before their directory (writing a child changes it). */
async function copyTimesDeep(src: string, dst: string): Promise<void> {
  const st = await fs.lstat(src);
  if (st.isDirectory()) for (const e of await fs.readdir(src)) await copyTimesDeep(path.join(src, e), path.join(dst, e));
  await copyTimes(src, dst);
}
