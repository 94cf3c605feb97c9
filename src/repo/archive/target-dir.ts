/**
 * The directory an import writes into: it must exist, be a real directory and be empty, and on
 * failure it is emptied again. Nothing here follows a symlink: removal works on `lstat`, and the
 * permissions of directories restored read-only are opened up first so they can be removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupFileError } from './errors.js';

export function checkEmptyTarget(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    throw new BackupFileError('bad-target', `target ${dir} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isDirectory()) throw new BackupFileError('bad-target', `target ${dir} is not a directory`);
  if (fs.readdirSync(dir).length > 0) throw new BackupFileError('bad-target', `target ${dir} is not empty`);
}

/** Removes everything inside `dir`, keeping `dir` itself. */
export function emptyDirectory(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    makeRemovable(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Gives the owner rwx on every directory below (and including) `p`, without following symlinks. */
function makeRemovable(p: string): void {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return;
  if ((st.mode & 0o700) !== 0o700) fs.chmodSync(p, (st.mode & 0o7777) | 0o700);
  for (const name of fs.readdirSync(p)) makeRemovable(path.join(p, name));
}
