/**
 * Paths built from a request (a partial backup's item, a restore's path, a Kanto directory) are
 * resolved below a trusted root one component at a time with `lstat`, never following a symbolic
 * link: the operating system would follow one in a middle component, so a link planted inside a
 * backed-up tree (`www/sub -> /etc`) would carry a read or a write outside the root.
 *
 * The root itself is trusted (an admin configured it) and may be reached through links. What is
 * checked is what lies below it. Between the check and the caller's use a local user could still
 * swap a directory for a link; callers that write create what they need with `ensureDirBeneath`
 * and write with O_NOFOLLOW/O_EXCL where it matters.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** A path that would leave its root, or run through something that is not a plain directory. */
export class PathEscapeError extends Error {
  override readonly name = 'PathEscapeError';
  constructor(message: string, readonly rel: string) {
    super(message);
  }
}

/**
 * The components of a relative path, refusing what could name something outside: empty paths, `.`,
 * `..`, NUL and absolute paths. Repeated and trailing slashes are tolerated.
 */
export function relativeComponents(rel: string): string[] {
  if (rel.includes('\0')) throw new PathEscapeError('a path may not contain NUL', rel);
  if (rel.startsWith('/')) throw new PathEscapeError(`${JSON.stringify(rel)} is absolute, a relative path was expected`, rel);
  const parts = rel.split('/').filter((c) => c !== '');
  for (const c of parts) if (c === '.' || c === '..') throw new PathEscapeError(`${JSON.stringify(rel)} may not contain . or ..`, rel);
  return parts;
}

async function lstatOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export interface ResolveResult {
  /** `root` joined with the components. */
  abs: string;
  /** The last component's lstat (undefined when it does not exist); it may itself be a symlink, never followed. */
  stat: import('node:fs').Stats | undefined;
}

/**
 * `root/rel` when every component but the last exists as a real directory (not a link) or does not
 * exist at all (then nothing below it exists either). The last component is returned as it is
 * (possibly a symlink: the caller treats it as one, never follows it).
 */
export async function resolveBeneath(root: string, rel: string): Promise<ResolveResult> {
  const parts = relativeComponents(rel);
  let abs = root;
  for (let i = 0; i < parts.length; i++) {
    abs = path.join(abs, parts[i]!);
    const st = await lstatOrUndefined(abs);
    if (i === parts.length - 1) return { abs, stat: st };
    if (st === undefined) return { abs: path.join(root, ...parts), stat: undefined };
    if (st.isSymbolicLink()) throw new PathEscapeError(`${parts.slice(0, i + 1).join('/')} is a symbolic link; paths are not followed through links`, rel);
    if (!st.isDirectory()) throw new PathEscapeError(`${parts.slice(0, i + 1).join('/')} is not a directory`, rel);
  }
  return { abs, stat: await lstatOrUndefined(abs) };
}

export interface EnsureOptions {
  /** Mode of directories created (before the umask). Default 0o755. */
  mode?: number;
  /**
   * What to do with a symlink or non-directory where a directory is needed: `refuse` throws
   * PathEscapeError, `replace` removes it (a restore puts back what the backup had). Default `refuse`.
   */
  obstacle?: 'refuse' | 'replace';
}

/**
 * Makes `root/rel` a real directory, creating each missing component with `mkdir` (never
 * recursive through links) and checking each with `lstat` afterwards. Returns the absolute path.
 */
export async function ensureDirBeneath(root: string, rel: string, o: EnsureOptions = {}): Promise<string> {
  const parts = relativeComponents(rel);
  let abs = root;
  for (let i = 0; i < parts.length; i++) {
    abs = path.join(abs, parts[i]!);
    let st = await lstatOrUndefined(abs);
    if (st !== undefined && !st.isDirectory()) {
      if (o.obstacle !== 'replace') {
        const what = st.isSymbolicLink() ? 'a symbolic link' : 'not a directory';
        throw new PathEscapeError(`${parts.slice(0, i + 1).join('/')} is ${what}; refusing to write through it`, rel);
      }
      await fs.rm(abs, { force: true });
      st = undefined;
    }
    if (st === undefined) {
      try {
        await fs.mkdir(abs, { mode: o.mode ?? 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      st = await lstatOrUndefined(abs);
      if (!st?.isDirectory()) throw new PathEscapeError(`${parts.slice(0, i + 1).join('/')} changed while it was being created`, rel);
    }
  }
  return abs;
}
