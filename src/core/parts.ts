/**
 * An instance's parts: what it consists of. Only directory trees exist so far; database dumps and
 * Coffer's own configuration arrive as further kinds with their own fields.
 */
import * as path from 'node:path';
import type { PartSpec } from '../catalog/index.js';
import { invalid } from './errors.js';

export interface DirectoryPart extends PartSpec {
  name: string;
  kind: 'directory';
  /** Absolute path of the tree. */
  path: string;
  /** restic exclude patterns; one starting with `/` is taken relative to `path`. */
  exclude: string[];
}

export type Part = DirectoryPart;
export const PART_KINDS = ['directory'] as const;

const PART_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

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
    for (const k of Object.keys(o)) if (!['name', 'kind', 'path', 'exclude'].includes(k)) throw invalid(`${f}.${k}`, 'is not a field of a directory part');
    return { name: o['name'], kind: 'directory', path: path.resolve(o['path']), exclude: exclude as string[] };
  });
}

/** Parts as stored, read back without re-validation failures breaking a listing. */
export function partsOf(spec: PartSpec[]): Part[] {
  return spec.filter((p): p is Part => p.kind === 'directory' && typeof p['path'] === 'string')
    .map((p) => ({ name: p.name, kind: 'directory', path: p['path'] as string, exclude: Array.isArray(p['exclude']) ? (p['exclude'] as string[]) : [] }));
}

/** A directory part's exclude patterns for the engine (which sees absolute paths). */
export function enginePatterns(part: DirectoryPart): string[] {
  return part.exclude.map((e) => (e.startsWith('/') ? path.join(part.path, e) : e));
}
