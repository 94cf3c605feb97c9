/**
 * Shared helpers for end-to-end tests: run the built `coffer` CLI and the real `restic`, build
 * trees on disk and compare them entry by entry.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger as PinoLogger, pino } from 'pino';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const COFFER_BIN = path.join(ROOT, 'bin', 'coffer.js');
export const PASSWORD = 'correct horse battery staple';

/** A real pino logger at info that keeps the message of every line in `messages`. */
export function messagesLogger(messages: string[]): PinoLogger {
  return pino({ level: 'info' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function coffer(args: string[], opts: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [COFFER_BIN, ...args], {
    env: { ...process.env, COFFER_PASSWORD: PASSWORD, ...opts.env },
    input: opts.input,
    cwd: opts.cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Like `coffer` but fails the test with the output when the exit code is not the expected one. */
export function cofferOk(args: string[], opts: Parameters<typeof coffer>[1] = {}, expected = 0): RunResult {
  const r = coffer(args, opts);
  if (r.code !== expected) throw new Error(`coffer ${args.join(' ')} exited ${r.code} (expected ${expected})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function cofferAsync(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [COFFER_BIN, ...args], { env: { ...process.env, COFFER_PASSWORD: PASSWORD, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function hasRestic(): boolean {
  return spawnSync('restic', ['version']).status === 0;
}

/** Tests that need restic: fail loudly in CI, skip with a reason elsewhere. */
export function requireRestic(): boolean {
  if (hasRestic()) return true;
  if (process.env.CI) throw new Error('restic is required in CI but was not found');
  console.warn('skipping: restic is not installed');
  return false;
}

export function restic(args: string[], env: Record<string, string> = {}): RunResult {
  const r = spawnSync('restic', args, {
    env: { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(os.tmpdir(), 'coffer-test-restic-cache'), ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export function resticOk(args: string[], env: Record<string, string> = {}): RunResult {
  const r = restic(args, env);
  if (r.code !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function tempDir(prefix = 'coffer-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Deterministic pseudo-random bytes (xorshift32), for reproducible test data. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    if (i + 4 <= size) out.writeInt32LE(x, i);
    else for (let j = i; j < size; j++) out[j] = (x >>> ((j - i) * 8)) & 0xff;
  }
  return out;
}

export interface ManifestEntry {
  type: string;
  mode: number;
  size?: number;
  sha256?: string;
  link?: string;
  mtimeMs?: number;
  uid?: number;
  gid?: number;
  /** Index of the hard-link group (same inode), for files with more than one link. */
  linkGroup?: string;
}

/** Describes a tree: every entry's type, permission bits, content hash, link target, mtime. */
export function manifest(root: string, opts: { times?: boolean; owners?: boolean } = {}): Record<string, ManifestEntry> {
  const out: Record<string, ManifestEntry> = {};
  const inodes = new Map<string, string>();
  const visit = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const e: ManifestEntry = { type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other', mode: st.mode & 0o7777 };
      if (st.isSymbolicLink()) e.mode = 0;
      if (st.isFile()) {
        e.size = st.size;
        e.sha256 = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (!inodes.has(key)) inodes.set(key, r);
          e.linkGroup = inodes.get(key)!;
        }
      }
      if (st.isSymbolicLink()) e.link = fs.readlinkSync(p);
      if (opts.times && !st.isSymbolicLink()) e.mtimeMs = Math.floor(st.mtimeMs);
      if (opts.owners) {
        e.uid = st.uid;
        e.gid = st.gid;
      }
      out[r] = e;
      if (st.isDirectory()) visit(p, r);
    }
  };
  visit(root, '');
  return out;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args).toString();
}
