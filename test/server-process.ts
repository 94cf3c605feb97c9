/** Runs `coffer serve` as a real process on loopback for end-to-end tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { COFFER_BIN } from './helpers.js';

export const ADMIN_PASSWORD = 'admin-password-for-tests';
export const ADMIN_KEY = 'cfr_test-admin-key-0123456789abcdefghijklmnopqrstuv';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Sends a signal and waits for the process to exit; resolves to its exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** `cwd` is where relative settings resolve (the default data directory `./coffer-data` among them). */
export async function startServer(args: string[], env: Record<string, string> = {}, opts: { cwd?: string } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [COFFER_BIN, 'serve', '--port', '0', '--log-level', 'warn', '--validate-responses', ...args], {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    env: { ...process.env, COFFER_ADMIN_PASSWORD: ADMIN_PASSWORD, COFFER_ADMIN_API_KEY: ADMIN_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${out}`)), 30_000);
    const look = () => {
      const m = /coffer listening on (https?:\/\/[^\s"]+|no HTTP)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    url, child, output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A small client: JSON in and out, the admin's API key unless told otherwise. */
export function client(base: string, key = ADMIN_KEY) {
  return async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(base + path, {
      method,
      headers: { ...(key ? { 'x-api-key': key } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
