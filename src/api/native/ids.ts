/**
 * Public ids: catalog integers shown as `backup-12`, `job-7`, `schedule-3`, `key-5` (the product's documentation's
 * example id is "backup-123"). Paths accept the prefixed form and the bare number; anything else,
 * like an id that does not exist, is 404.
 */
import { CoreError } from '../../core/index.js';

export type IdKind = 'backup' | 'job' | 'schedule' | 'key' | 'notification' | 'delivery';

/** Catalog ids are PostgreSQL `integer`s: a larger number would be a database error, not a miss. */
const MAX_ID = 2_147_483_647;

export function formatId(kind: IdKind, n: number): string {
  return `${kind}-${n}`;
}

export function formatOptionalId(kind: IdKind, n: number | null): string | null {
  return n === null ? null : formatId(kind, n);
}

export function parseId(kind: IdKind, raw: string): number | undefined {
  const digits = raw.startsWith(`${kind}-`) ? raw.slice(kind.length + 1) : raw;
  if (!/^[0-9]{1,10}$/.test(digits)) return undefined;
  const n = Number(digits);
  return n >= 1 && n <= MAX_ID ? n : undefined;
}

/** The id in a path, or the same 404 an unknown id gets. */
export function requireId(kind: IdKind, raw: string): number {
  const n = parseId(kind, raw);
  if (n === undefined) throw new CoreError('not_found', `${kind} ${raw.length > 64 ? `${raw.slice(0, 64)}…` : raw} not found`);
  return n;
}
