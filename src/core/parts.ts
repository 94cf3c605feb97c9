/**
 * An instance's parts: what it consists of. Only directory trees exist so far; database dumps and
 * Coffer's own configuration arrive as further kinds with their own fields.
 */
import * as path from 'node:path';
import type { PartSpec } from '../catalog/index.js';
import { invalid } from './errors.js';
import { NAME_PATTERN } from './names.js';

export interface DirectoryPart extends PartSpec {
  name: string;
  kind: 'directory';
  /** Absolute path of the tree. */
  path: string;
  /** restic exclude patterns; one starting with `/` is taken relative to `path`. */
  exclude: string[];
  /** An admin's explicit choice to back up Coffer's own files (secret, catalog, repositories) where this part covers them. */
  include_coffer_data?: true;
}

export type Part = DirectoryPart;
export const PART_KINDS = ['directory'] as const;

const PART_FIELDS = ['name', 'kind', 'path', 'exclude', 'include_coffer_data'];
const PART_NAME_RE = new RegExp(NAME_PATTERN);

export function validateParts(raw: unknown, field = 'parts'): Part[] {
  if (!Array.isArray(raw)) throw invalid(field, 'must be an array of parts');
  const names = new Set<string>();
  return raw.map((p, i) => {
    const f = `${field}[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalid(f, 'must be an object');
    const o = p as Record<string, unknown>;
    if (typeof o['name'] !== 'string' || !PART_NAME_RE.test(o['name'])) throw invalid(`${f}.name`, 'must be 1 to 64 letters, digits or _.- starting with a letter or digit');
    if (names.has(o['name'])) throw invalid(`${f}.name`, `duplicate part name ${o['name']}`);
    names.add(o['name']);
    const kind = o['kind'] ?? 'directory';
    if (kind !== 'directory') throw invalid(`${f}.kind`, `must be one of ${PART_KINDS.join(', ')}`);
    if (typeof o['path'] !== 'string' || !path.isAbsolute(o['path']) || o['path'].includes('\0')) throw invalid(`${f}.path`, 'must be an absolute path');
    const exclude = o['exclude'] ?? [];
    if (!Array.isArray(exclude) || !exclude.every((e) => typeof e === 'string' && e.length > 0 && e.length <= 4096)) throw invalid(`${f}.exclude`, 'must be an array of non-empty patterns');
    const own = o['include_coffer_data'] ?? false;
    if (typeof own !== 'boolean') throw invalid(`${f}.include_coffer_data`, 'must be true or false');
    for (const k of Object.keys(o)) if (!PART_FIELDS.includes(k)) throw invalid(`${f}.${k}`, 'is not a field of a directory part');
    return { name: o['name'], kind: 'directory', path: path.resolve(o['path']), exclude: exclude as string[], ...(own ? { include_coffer_data: true as const } : {}) };
  });
}

/** Parts as stored, read back without re-validation failures breaking a listing. */
export function partsOf(spec: PartSpec[]): Part[] {
  return spec.filter((p): p is Part => p.kind === 'directory' && typeof p['path'] === 'string')
    .map((p) => ({
      name: p.name, kind: 'directory', path: p['path'] as string, exclude: Array.isArray(p['exclude']) ? (p['exclude'] as string[]) : [],
      ...(p['include_coffer_data'] === true ? { include_coffer_data: true as const } : {}),
    }));
}

/** A directory part's exclude patterns for the engine (which sees absolute paths). */
export function enginePatterns(part: DirectoryPart): string[] {
  return part.exclude.map((e) => (e.startsWith('/') ? path.join(part.path, e) : e));
}

/**
 * Exclude patterns that keep Coffer's own files (`cofferFiles`: its secret, catalog, staging
 * folders, repository) out of the parts that cover them, so that a backup of `/` or `/var/lib`
 * never carries the secret that opens every repository. Only a part with `include_coffer_data`
 * takes them; when another part that does not covers the same files, they stay out (patterns
 * apply to the whole backup). `keep`: paths backed up on purpose (Coffer's own parts) inside
 * them, brought back by `!` patterns after.
 */
export function cofferExcludes(parts: readonly DirectoryPart[], cofferFiles: readonly string[], keep: readonly string[] = []): string[] {
  const guarded = parts.filter((p) => !p.include_coffer_data);
  const excluded = cofferFiles.filter((f) => guarded.some((p) => within(f, p.path) || within(p.path, f)));
  const kept = keep.filter((k) => excluded.some((f) => within(k, f)));
  return [...excluded.map(literalPattern), ...kept.map((k) => `!${literalPattern(k)}`)];
}

/** Whether `p` is `dir` or below it (both absolute). */
function within(p: string, dir: string): boolean {
  const d = path.resolve(dir);
  const q = path.resolve(p);
  return q === d || q.startsWith(d === '/' ? '/' : `${d}/`);
}

/** An absolute path as an exclude pattern that matches exactly it (and below): glob characters escaped. */
function literalPattern(p: string): string {
  return path.resolve(p).replace(/[\\*?[]/g, (c) => `\\${c}`);
}
