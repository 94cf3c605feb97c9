/**
 * Which directories a command may name in `backup.dir` (KANTO.md 2.3): `strict` only the
 * configured one, `scoped` it or anything below it, `lax` any. Kanto compares the paths lexically;
 * `scoped` here also compares where they really lead, since the backup reads and the restore
 * writes through any symlink on the way: a link below the directory must not carry either outside.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { executionFailed } from './params.js';

export const KANTO_MODES = ['strict', 'scoped', 'lax'] as const;
export type KantoMode = (typeof KANTO_MODES)[number];

/** The directory an operation acts on, or a 400 with Kanto's message. */
export function chooseDirectory(requested: string | undefined, configured: string | undefined, mode: KantoMode): string {
  if (requested) {
    const want = path.resolve(requested);
    if (!allowed(want, configured, mode)) throw executionFailed(400, `accessing directory '${requested}' is not permitted under mode '${mode}'`);
    return want;
  }
  if (!configured) throw executionFailed(400, 'backup directory not specified');
  return path.resolve(configured);
}

function allowed(want: string, configured: string | undefined, mode: KantoMode): boolean {
  if (mode === 'lax') return true;
  if (!configured) return false;
  const base = path.resolve(configured);
  if (mode === 'strict') return want === base;
  if (!isBelow(base, want)) return false;
  try {
    return isBelow(realPathOf(base), realPathOf(want));
  } catch {
    // A loop of links, or a directory not searchable: nothing that can be shown to stay inside.
    return false;
  }
}

function isBelow(base: string, want: string): boolean {
  const rel = path.relative(base, want);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Where `p` really leads: the real path of its deepest existing ancestor, with the missing rest
 * (a restore creates it as plain directories) appended.
 */
function realPathOf(p: string): string {
  const missing: string[] = [];
  let at = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...missing.reverse());
    } catch (err) {
      const parent = path.dirname(at);
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === at) throw err;
      missing.push(path.basename(at));
      at = parent;
    }
  }
}

/** A backup needs its directory to exist. */
export function requireExisting(dir: string, asRequested: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw executionFailed(400, `backup directory '${asRequested}' not found`);
  }
  if (!st.isDirectory()) throw executionFailed(400, `backup directory '${asRequested}' is not a directory`);
}
