/** Parsers of flag values, shared by the commands' declarations in `main.ts`. */
import { UsageError } from './exit-codes.js';

/** Collects a repeatable option (`--tag a --tag b`) and comma lists (`--tag a,b`) into one list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

export function collectRaw(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < -1) throw new UsageError(`invalid count ${JSON.stringify(value)}`);
  return n;
}
