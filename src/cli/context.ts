/** What every repository command needs: where the repository is, its password, output mode. */
import { readFileSync } from 'node:fs';
import { Repository } from '../repo/index.js';
import { type Backend, openBackend } from '../storage/index.js';
import { UsageError } from './exit-codes.js';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  json?: boolean;
  quiet?: boolean;
}

export function repoLocation(g: GlobalOptions): string {
  const loc = g.repo ?? process.env.COFFER_REPOSITORY;
  if (!loc) throw new UsageError('no repository given: use -r/--repo or set COFFER_REPOSITORY');
  return loc;
}

function readPasswordFile(file: string): string {
  try {
    // Only the first line, without its newline, as restic reads --password-file.
    return readFileSync(file, 'utf8').split(/\r?\n/)[0]!;
  } catch (err) {
    throw new UsageError(`cannot read password file ${file}: ${(err as Error).message}`);
  }
}

export function password(g: GlobalOptions): string {
  if (g.passwordFile) return readPasswordFile(g.passwordFile);
  const file = process.env.COFFER_PASSWORD_FILE;
  if (file) return readPasswordFile(file);
  const pw = process.env.COFFER_PASSWORD;
  if (pw !== undefined) return pw;
  throw new UsageError('no password given: set COFFER_PASSWORD or use --password-file');
}

export function backendFor(g: GlobalOptions): Backend {
  return openBackend(repoLocation(g));
}

export async function openRepo(g: GlobalOptions): Promise<Repository> {
  return Repository.open(backendFor(g), password(g));
}

/** Writes a line for humans to stdout, unless --json or --quiet asked for silence. */
export function say(g: GlobalOptions, line: string): void {
  if (!g.json && !g.quiet) process.stdout.write(line + '\n');
}

export function printJSON(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function warn(line: string): void {
  process.stderr.write(line + '\n');
}

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
