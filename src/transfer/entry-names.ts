/**
 * Entry names of archives meant for Kanto's restore (research/KANTO.md 3.3): `/` and `\` both
 * separate directories (Kanto writes `dir\` for directories, Info-ZIP `dir/`), and a name that could
 * land outside the target is refused outright rather than cleaned up: a ZIP carrying `../x` was
 * made to attack, and unpacking the rest of it would only hide that.
 */
import { TransferError } from './errors.js';

export interface EntryName {
  /** Path components below the target directory, never empty, none of them `.` or `..`. */
  readonly components: readonly string[];
  /** The name ended with a separator: a directory entry. */
  readonly isDirectory: boolean;
}

/** NAME_MAX on every common Linux file system. */
const MAX_COMPONENT_BYTES = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a raw entry name (UTF-8: Go's archive/zip and Info-ZIP on Linux both write it). */
export function decodeEntryName(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new TransferError(`unsafe ZIP entry name (not valid UTF-8: ${raw.toString('hex')})`);
  }
}

export function parseEntryName(name: string): EntryName {
  const refuse = (why: string): never => {
    throw new TransferError(`unsafe ZIP entry name ${JSON.stringify(name)}: ${why}`);
  };
  if (name.includes('\0')) refuse('NUL byte');
  const unified = name.replaceAll('\\', '/');
  // `\x` and `\\server\share` are absolute on Windows too, hence the check after unifying.
  if (unified.startsWith('/')) refuse('absolute path');
  // `C:x` is relative on Linux but not where a person may unpack the same file.
  if (/^[A-Za-z]:/.test(unified)) refuse('drive letter');
  const isDirectory = unified.endsWith('/');
  const components: string[] = [];
  for (const c of unified.split('/')) {
    // Empty and `.` components name nothing new (`a//b`, `./a`): skipped, as any path resolver does.
    if (c === '' || c === '.') continue;
    if (c === '..') refuse('".." path component');
    if (Buffer.byteLength(c) > MAX_COMPONENT_BYTES) refuse(`a name longer than ${MAX_COMPONENT_BYTES} bytes`);
    components.push(c);
  }
  if (components.length === 0) refuse('names no file or directory');
  return { components, isDirectory };
}
