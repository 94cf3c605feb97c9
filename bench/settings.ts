/** What every benchmark entry point reads the same way: its log, and the BENCH_* knobs they share. */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLS, type Tool } from './report.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchLog {
  log(msg: string): void;
  /** Logs the reason and exits 2: a knob the benchmark cannot run with. */
  die(msg: string): never;
}

export function benchLog(tag: string): BenchLog {
  const log = (msg: string): void => {
    process.stderr.write(`[${tag} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  };
  return {
    log,
    die(msg: string): never {
      log(`error: ${msg}`);
      process.exit(2);
    },
  };
}

/** A comma- or space-separated subset of `allowed` from variable `name`, in `allowed`'s order; all of it when unset. */
export function listEnv<T extends string>(name: string, allowed: readonly T[], die: BenchLog['die']): T[] {
  const raw = process.env[name];
  if (!raw) return [...allowed];
  const vals = raw.split(/[\s,]+/).filter(Boolean);
  for (const v of vals) if (!allowed.includes(v as T)) die(`${name}: unknown value "${v}" (allowed: ${allowed.join(', ')})`);
  return allowed.filter((a) => vals.includes(a));
}

export interface CommonSettings {
  scale: number;
  rounds: number;
  tools: Tool[];
  wantDrop: boolean;
  timeoutS: number;
  resticBin: string;
  cofferJs: string;
}

/** BENCH_SCALE, BENCH_ROUNDS, BENCH_TOOLS, BENCH_DROP_CACHES, BENCH_TIMEOUT, BENCH_RESTIC, BENCH_COFFER. */
export function commonSettings(defaults: { scale: number; rounds: number }, die: BenchLog['die']): CommonSettings {
  const scale = Number(process.env['BENCH_SCALE'] ?? defaults.scale);
  if (!(scale > 0)) die('BENCH_SCALE must be a positive number');
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? defaults.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) die('BENCH_ROUNDS must be a positive integer');
  return {
    scale,
    rounds,
    tools: listEnv('BENCH_TOOLS', TOOLS, die),
    wantDrop: process.env['BENCH_DROP_CACHES'] !== '0',
    timeoutS: Number(process.env['BENCH_TIMEOUT'] ?? '7200'),
    resticBin: process.env['BENCH_RESTIC'] ?? 'restic',
    cofferJs: path.resolve(process.env['BENCH_COFFER'] ?? path.join(ROOT, 'bin', 'coffer.js')),
  };
}
