/**
 * Setting access and modification times to the nanosecond, as restic and GNU tar restore them.
 *
 * Node's fs.utimes, lutimes and futimes pass seconds through a double, which at today's epoch
 * rounds to about 240 ns; there is no pure-Node way to hand utimensat(2) exact nanoseconds. So a
 * small Node-API addon of ours (native/file-times.c, built into build/Release by `npm ci` or
 * `npm run build:native`) makes the calls. Without it, setting times throws: a restore that
 * silently loses precision would be worse than one that does not start.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as util from 'node:util';
import type { TimeSpec } from './time.js';

interface FileTimesAddon {
  /** Returns 0, or the errno of utimensat(2). */
  setTimes(path: string, atimeSec: number | bigint, atimeNsec: number, mtimeSec: number | bigint, mtimeNsec: number, followSymlinks: boolean): number;
  /** Returns 0, or the errno of futimens(2). */
  setFdTimes(fd: number, atimeSec: number | bigint, atimeNsec: number, mtimeSec: number | bigint, mtimeNsec: number): number;
}

// src/repo/ and dist/repo/ are both two levels below the package root, where node-gyp builds.
const ADDON_URL = new URL('../../build/Release/file_times.node', import.meta.url);

let addon: FileTimesAddon | undefined;

/** The addon, loaded on first use; throws naming how to build it when it is missing. */
export function fileTimesAddon(): FileTimesAddon {
  if (addon) return addon;
  const file = fileURLToPath(ADDON_URL);
  try {
    addon = createRequire(import.meta.url)(file) as FileTimesAddon;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? 'it is not built' : e.message.split('\n')[0];
    throw new Error(
      `cannot load Coffer's native addon for nanosecond file times, ${file}: ${why}. ` +
        'Build it with `npm run build:native` (npm ci does so; it needs a C compiler, make and Python).',
      { cause: err },
    );
  }
  return addon;
}

export interface SetTimesOptions {
  /** Set the times of a symlink's target instead of the link itself. Default false (lutimes). */
  followSymlinks?: boolean;
}

/** Sets `path`'s times exactly with one utimensat(2); a symlink's own times unless followSymlinks. */
export function setFileTimes(path: string, atime: TimeSpec, mtime: TimeSpec, opts: SetTimesOptions = {}): void {
  const errno = fileTimesAddon().setTimes(path, atime.sec, atime.nsec, mtime.sec, mtime.nsec, opts.followSymlinks ?? false);
  if (errno !== 0) throw systemError(errno, 'utimensat', path);
}

/** Sets an open file's times exactly with one futimens(2). */
export function setFdTimes(fd: number, atime: TimeSpec, mtime: TimeSpec): void {
  const errno = fileTimesAddon().setFdTimes(fd, atime.sec, atime.nsec, mtime.sec, mtime.nsec);
  if (errno !== 0) throw systemError(errno, 'futimens');
}

/** An error shaped as Node's fs functions throw them: code, errno, syscall and path. */
function systemError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const [code, description] = util.getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall}${path === undefined ? '' : ` '${path}'`}`);
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}
