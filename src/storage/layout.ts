import type { FileType, Handle } from './backend.js';

/**
 * restic's default layout (design.rst "Repository Layout"), shared by every provider so that
 * `restic -r` opens what Coffer writes on any of them: packs are spread over 256 sub-directories
 * named by the first two hex digits of their id.
 */
const DIRS: Record<FileType, string> = {
  config: '',
  key: 'keys',
  lock: 'locks',
  snapshot: 'snapshots',
  index: 'index',
  pack: 'data',
};

export function typeDir(type: FileType): string {
  return DIRS[type];
}

/** Relative path of a file, with `/` separators. */
export function handlePath(h: Handle): string {
  if (h.type === 'config') return 'config';
  if (h.type === 'pack') return `data/${h.name.slice(0, 2)}/${h.name}`;
  return `${DIRS[h.type]}/${h.name}`;
}

/** Every directory `create()` makes, parents first. */
export function layoutDirs(): string[] {
  const dirs = ['keys', 'locks', 'snapshots', 'index', 'data'];
  for (let i = 0; i < 256; i++) dirs.push(`data/${i.toString(16).padStart(2, '0')}`);
  return dirs;
}

const NAME = /^[0-9a-f]{64}$/;

/** Names in the repository are 64 hex digits; anything else (temp files, junk) is skipped by list. */
export function isStorageName(name: string): boolean {
  return NAME.test(name);
}
