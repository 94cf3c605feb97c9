/**
 * Shared pieces of the storm tests: a seeded random source (the seed is printed so that a failing
 * run can be replayed), HTTP calls that always end (a per-request timeout), the default
 * repository's password as the server keeps it, and a fingerprint of a directory tree to prove
 * that nothing outside the allowed places was written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import { ServerSecret } from '../../src/core/secrets.js';

export interface Rng {
  seed: number;
  /** A float in [0, 1). */
  next(): number;
  int(lo: number, hiInclusive: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast and good enough to choose moments and actions. */
export function seededRng(label: string, envVar = 'STORM_SEED'): Rng {
  const fromEnv = process.env[envVar];
  const seed = fromEnv ? Number(fromEnv) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
  process.stderr.write(`${label}: seed ${seed} (replay with ${envVar}=${seed})\n`);
  let a = seed || 1;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (items) => items[Math.floor(next() * items.length)]! };
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
  ms: number;
}

/** What went wrong on the wire: a timeout, a reset, a refused connection. */
export class NoAnswer extends Error {
  constructor(readonly request: string, override readonly cause: unknown, readonly ms: number) {
    super(`${request}: no answer after ${ms} ms (${describeCause(cause)})`);
  }
}

function describeCause(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return [e.name, e.message, e.cause?.code, e.cause?.message].filter(Boolean).join(': ');
}

/** One HTTP request over a real socket that answers or throws NoAnswer within `timeoutMs`. */
export async function send(base: string, method: string, url: string, o: { key?: string; body?: unknown; raw?: Buffer | string; type?: string; timeoutMs?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (o.key) headers['x-api-key'] = o.key;
  let payload: Uint8Array | string | undefined = o.raw ? (typeof o.raw === 'string' ? o.raw : new Uint8Array(o.raw)) : undefined;
  if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  if (o.type) headers['content-type'] = o.type;
  const started = Date.now();
  const request = `${method} ${url}`;
  try {
    const res = await fetch(base + url, { method, headers, ...(payload !== undefined ? { body: payload as BodyInit } : {}), signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body, text, headers: res.headers, ms: Date.now() - started };
  } catch (err) {
    throw new NoAnswer(request, err, Date.now() - started);
  }
}

/** The default repository's password, as the server keeps it: sealed in the catalog under the secret. */
export async function defaultRepoPassword(catalogUrl: string, secretFile: string): Promise<string> {
  const cat = await Catalog.open(catalogUrl);
  try {
    const rec = await cat.repositories.byName('default');
    if (!rec) throw new Error('the catalog has no default repository');
    return ServerSecret.loadOrCreate(secretFile).open(rec.passwordSealed);
  } finally {
    await cat.close();
  }
}

/** Every entry below `root` with its type, size, mode, mtime and link target: equal before and after means nothing was written. */
export function fingerprint(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(abs);
      const kind = st.isSymbolicLink() ? `link:${fs.readlinkSync(abs)}` : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      out[r] = `${kind} size=${st.isDirectory() ? '-' : st.size} mode=${(st.mode & 0o7777).toString(8)} mtime=${Math.floor(st.mtimeMs)}`;
      if (st.isDirectory()) visit(abs, r);
    }
  };
  visit(root, '');
  return out;
}

/** Paths below `root` (any depth) whose last component matches `name`. */
export function findNamed(root: string, name: RegExp): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (name.test(e.name)) found.push(abs);
      if (e.isDirectory()) visit(abs);
    }
  };
  visit(root);
  return found;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
