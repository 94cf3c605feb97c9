// Running a command under GNU time: wall time, peak RSS, user+sys CPU.
// Also directory sizes and page-cache dropping.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command after this many seconds (default: none). */
  timeoutS?: number;
}

export interface RunResult {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  ok: boolean;
  /** performance.now() around spawn → exit (includes GNU time's negligible overhead). */
  wallS: number;
  userS: number;
  sysS: number;
  cpuS: number;
  /** Peak RSS of the measured process (GNU time %M), MiB. */
  maxRssMiB: number;
  /** Last ~64 KiB of stdout / ~16 KiB of stderr. */
  stdoutTail: string;
  stderrTail: string;
  /** Last stdout line that is a JSON object with message_type "summary". */
  summary?: Record<string, unknown>;
}

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  toString(): string {
    const b = Buffer.concat(this.chunks);
    return b.subarray(Math.max(0, b.length - this.max)).toString('utf8');
  }
}

export function findSummary(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l) as unknown;
      if (o && typeof o === 'object' && (o as Record<string, unknown>)['message_type'] === 'summary') {
        return o as Record<string, unknown>;
      }
    } catch {
      // a truncated or non-JSON line
    }
  }
  return undefined;
}

let tmpCounter = 0;

/** Run argv under GNU time and measure it. Never throws for a failing command. */
export async function runMeasured(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeFile = path.join(os.tmpdir(), `coffer-bench-time-${process.pid}-${tmpCounter++}.txt`);
  const out = new Tail(64 * 1024);
  const err = new Tail(16 * 1024);
  const t0 = performance.now();
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const child = spawn(GNU_TIME, ['-f', '%e %M %U %S', '-o', timeFile, ...argv], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutS) {
      timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutS * 1000);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      err.push(Buffer.from(String(e)));
      if (timer) clearTimeout(timer);
      resolve({ code: null, signal: null });
    });
    child.on('close', (c, s) => {
      if (timer) clearTimeout(timer);
      resolve({ code: c, signal: s });
    });
  });
  const wallS = (performance.now() - t0) / 1000;
  let userS = NaN;
  let sysS = NaN;
  let maxRssMiB = NaN;
  let exitCode = code;
  let sig: string | null = signal;
  try {
    const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
    // Preceding lines may say "Command exited with non-zero status N" or
    // "Command terminated by signal N"; GNU time then exits with that status.
    for (const l of lines) {
      const m = /terminated by signal (\d+)/.exec(l);
      if (m) sig = `signal ${m[1]}`;
    }
    const f = lines[lines.length - 1]!.trim().split(/\s+/).map(Number);
    if (f.length === 4 && f.every((x) => Number.isFinite(x))) {
      maxRssMiB = f[1]! / 1024;
      userS = f[2]!;
      sysS = f[3]!;
    }
  } catch {
    // time never ran (spawn error)
  } finally {
    fs.rmSync(timeFile, { force: true });
  }
  const stdoutTail = out.toString();
  const stderrTail = err.toString();
  if (sig) exitCode = null;
  return {
    argv,
    exitCode,
    signal: sig,
    ok: exitCode === 0 && !sig,
    wallS,
    userS,
    sysS,
    cpuS: userS + sysS,
    maxRssMiB,
    stdoutTail,
    stderrTail,
    summary: findSummary(stdoutTail),
  };
}

/** Run a command synchronously and return trimmed stdout ('' on failure). */
export function capture(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 30_000 });
  if (r.error || r.status !== 0) return '';
  return (r.stdout ?? '').trim();
}

export interface DirSize {
  /** Sum of regular-file sizes (what the table reports). */
  fileBytes: number;
  /** `du -sb` equivalent: apparent sizes of files, dirs and symlinks; hard links once. */
  apparentBytes: number;
  files: number;
}

export function dirSize(root: string): DirSize {
  const seen = new Set<string>();
  const res: DirSize = { fileBytes: 0, apparentBytes: 0, files: 0 };
  const rec = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    res.apparentBytes += st.size;
    if (st.isFile()) {
      res.fileBytes += st.size;
      res.files++;
    } else if (st.isDirectory()) {
      for (const name of fs.readdirSync(p)) rec(path.join(p, name));
    }
  };
  rec(root);
  return res;
}

let dropState: 'untried' | 'ok' | 'failed' = 'untried';
let dropError = '';

/**
 * `sync; echo 3 > /proc/sys/vm/drop_caches`. Returns whether it worked; after
 * the first failure it is not tried again.
 */
export function dropCaches(): boolean {
  if (dropState === 'failed') return false;
  spawnSync('sync');
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    dropState = 'ok';
    return true;
  } catch (e) {
    dropState = 'failed';
    dropError = e instanceof Error ? e.message : String(e);
    return false;
  }
}

export function dropCachesStatus(): { state: typeof dropState; error: string } {
  return { state: dropState, error: dropError };
}
