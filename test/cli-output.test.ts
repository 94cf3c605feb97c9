/**
 * What the `coffer` command prints: restic's snapshot and forget tables (compared with the real
 * restic on the same repository), snake_case JSON from every command, the password errors, exit
 * code 130 on an interrupt, the version, and which modules a command loads.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/repo/index.js';
import { COFFER_BIN, PASSWORD, coffer, cofferOk, pseudoRandom, requireRestic, restic, tempDir } from './helpers.js';

let work: string;
let repo: string;
let src: string;

beforeAll(() => {
  work = tempDir();
  src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(src, 'photos'), { recursive: true });
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'photos', 'b.bin'), pseudoRandom(64 * 1024, 5));
  repo = path.join(work, 'repo');
  cofferOk(['-r', repo, 'init']);
  cofferOk(['-r', repo, 'backup', path.join(src, 'docs')]);
  cofferOk(['-r', repo, 'backup', '--tag', 'laptop,weekly', path.join(src, 'docs'), path.join(src, 'photos')]);
  cofferOk(['-r', repo, 'backup', path.join(src, 'docs')]);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/**
 * Coffer's table without its Size column (restic 0.17 and later print it, the restic 0.14 here
 * does not): Size is the last column, so removing it leaves every other column where it was.
 * Dashed lines are compared as such (their length includes Size), counts as "N snapshots"
 * (restic says "1 snapshots", Coffer "1 snapshot").
 */
function withoutSize(lines: string[]): string[] {
  let at = -1;
  return lines.map((l) => {
    if (/^ID {2,}Time/.test(l)) at = l.indexOf('Size');
    if (/^-+$/.test(l)) return '---';
    const cut = at >= 0 && l.length > at ? l.slice(0, at).trimEnd() : l;
    return cut.replace(/\b(\d+) snapshots?\b/g, '$1 snapshots');
  });
}

const linesOf = (text: string): string[] => text.replace(/\n$/, '').split('\n');

describe('snapshots, forget and key list print restic\'s tables', () => {
  it('snapshots: the same IDs, header and row layout as restic on the same repository', () => {
    const ours = linesOf(cofferOk(['-r', repo, 'snapshots']).stdout);
    expect(ours[0]).toMatch(/^ID {8}Time {17}Host {8}Tags +Paths +Size$/);
    expect(ours.at(-1)).toBe('3 snapshots');
    // The snapshot with two paths takes two lines, and blank lines separate the snapshots.
    expect(ours.filter((l) => l === '')).toHaveLength(2);
    if (!requireRestic()) return;
    const theirs = restic(['-r', repo, 'snapshots']);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(withoutSize(ours)).toEqual(withoutSize(linesOf(theirs.stdout)));
  });

  it('forget --dry-run: "Applying Policy", the keep table with Reasons, the remove table, as restic', () => {
    const single = path.join(work, 'repo-forget');
    cofferOk(['-r', single, 'init']);
    for (let i = 0; i < 3; i++) cofferOk(['-r', single, 'backup', path.join(src, 'docs')]);
    const ours = linesOf(cofferOk(['-r', single, 'forget', '--dry-run', '--keep-last', '2']).stdout);
    expect(ours[0]).toBe('Applying Policy: keep 2 latest snapshots');
    expect(ours).toContain('keep 2 snapshots:');
    expect(ours).toContain('remove 1 snapshot:');
    expect(ours.find((l) => l.startsWith('ID'))).toMatch(/^ID +Time +Host +Tags +Reasons +Paths +Size$/);
    if (!requireRestic()) return;
    const theirs = restic(['-r', single, 'forget', '--dry-run', '--keep-last', '2']);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(withoutSize(ours)).toEqual(withoutSize(linesOf(theirs.stdout)));
  });

  it('key list: the same table as restic', () => {
    const ours = cofferOk(['-r', repo, 'key', 'list']).stdout;
    expect(ours).toMatch(/^ ID {8}User +Host +Created\n-+\n\*[0-9a-f]{8} /);
    if (!requireRestic()) return;
    const theirs = restic(['-r', repo, 'key', 'list']);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours).toBe(theirs.stdout);
  });

  it('forget names each group when there are several', () => {
    const out = cofferOk(['-r', repo, 'forget', '--dry-run', '--keep-last', '1']).stdout;
    expect(out).toContain(`snapshots for (host [`);
    expect(out).toContain(`paths [${path.join(src, 'docs')}, ${path.join(src, 'photos')}]):`);
  });
});

/** Every key of every object in `value`, at any depth. */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      keysOf(v, out);
    }
  }
  return out;
}

/** The commands `coffer help` lists, and the subcommands of those that have some. */
function listedCommands(): string[] {
  const names = (help: string): string[] => [...help.split('Commands:')[1]!.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  return names(cofferOk(['help']).stdout).flatMap((c) => {
    const sub = cofferOk(['help', c]).stdout;
    return sub.includes('Commands:') ? names(sub).map((s) => `${c} ${s}`) : [c];
  });
}

describe('--json', () => {
  it('every command prints snake_case keys only', () => {
    const jrepo = path.join(work, 'repo-json');
    const pwFile = path.join(work, 'new-password');
    fs.writeFileSync(pwFile, 'another password\n');
    const target = path.join(work, 'restore-json');
    // How each command runs with --json, in an order that leaves the next one something to do.
    const cases: Record<string, string[] | { none: string }> = {
      init: ['init'],
      backup: ['backup', src],
      snapshots: ['snapshots'],
      restore: ['restore', 'latest', '--target', target],
      check: ['check', '--read-data'],
      forget: ['forget', '--keep-last', '1', '--prune'],
      prune: ['prune'],
      'key add': ['key', 'add', '--new-password-file', pwFile],
      'key list': ['key', 'list'],
      'key remove': ['key', 'remove', '<added>'],
      unlock: ['unlock'],
      version: ['version'],
      serve: { none: 'a server: it logs, one JSON object a line, in its logger\'s own format' },
      'admin reset-password': { none: 'prints a password for a person, never JSON' },
      'admin create-key': { none: 'prints an API key for a person, never JSON' },
      'admin repository-password': { none: 'prints the password alone, for $(…)' },
    };
    expect(Object.keys(cases).sort()).toEqual(listedCommands().sort());
    cofferOk(['-r', jrepo, 'backup', src], {}, 10);
    let added = '';
    for (const [name, args] of Object.entries(cases)) {
      if (!Array.isArray(args)) continue;
      const argv = args.map((a) => (a === '<added>' ? added : a));
      const r = cofferOk(['-r', jrepo, '--json', ...argv]);
      const docs = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
      expect(docs.length, `${name} printed no JSON`).toBeGreaterThan(0);
      const camel = keysOf(docs).filter((k) => /[A-Z]/.test(k) || !/^[a-z0-9_]+$/.test(k));
      expect(camel, `${name}: ${r.stdout}`).toEqual([]);
      if (name === 'key add') added = (docs[0] as { id: string }).id;
    }
  });
});

describe('passwords', () => {
  it('a missing password file is an error of its own (exit 1)', () => {
    const r = coffer(['-r', repo, '--password-file', path.join(work, 'no-such-file'), 'snapshots']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not exist');
  });

  it('an empty password file is refused (exit 1), not taken as the empty password', () => {
    const empty = path.join(work, 'empty-password');
    fs.writeFileSync(empty, '');
    for (const args of [['snapshots'], ['init']]) {
      const r = coffer(['-r', path.join(work, `repo-empty-${args[0]}`), '--password-file', empty, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`password file ${empty} is empty`);
    }
    fs.writeFileSync(empty, '\nsecond line\n');
    expect(coffer(['-r', repo, '--password-file', empty, 'snapshots']).stderr).toContain('is empty');
    expect(fs.existsSync(path.join(work, 'repo-empty-init'))).toBe(false);
  });

  it('an empty COFFER_PASSWORD is refused', () => {
    const r = coffer(['-r', repo, 'snapshots'], { env: { COFFER_PASSWORD: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('empty password is not allowed');
  });

  it('the password file\'s first line is the password', () => {
    const file = path.join(work, 'password');
    fs.writeFileSync(file, `${PASSWORD}\nignored\n`);
    expect(coffer(['-r', repo, '--password-file', file, 'snapshots'], { env: { COFFER_PASSWORD: 'wrong' } }).code).toBe(0);
  });
});

describe('exit codes', () => {
  it('130 when interrupted (SIGINT) during a backup, and the repository stays sound', async () => {
    const dir = path.join(work, 'interrupt');
    fs.mkdirSync(dir);
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(dir, `big-${i}`), pseudoRandom(48 * 1024 * 1024, 40 + i));
    const irepo = path.join(work, 'repo-interrupt');
    cofferOk(['-r', irepo, 'init']);
    const child = spawn(process.execPath, [COFFER_BIN, '-r', irepo, '--json', 'backup', dir], { env: { ...process.env, COFFER_PASSWORD: PASSWORD } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The first status line says the backup is under way.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('interrupted');
    cofferOk(['-r', irepo, 'unlock']);
    cofferOk(['-r', irepo, 'check']);
  });
});

describe('version', () => {
  it('--version and the version command agree with the repository layer', () => {
    expect(cofferOk(['--version']).stdout.trim()).toBe(VERSION);
    expect(cofferOk(['version']).stdout).toMatch(new RegExp(`^coffer ${VERSION.replace(/\./g, '\\.')} running on node v\\d+`));
    expect(JSON.parse(cofferOk(['--json', 'version']).stdout)).toMatchObject({ message_type: 'version', version: VERSION });
  });
});

describe('start-up', () => {
  /** The modules (files and packages) a run of `coffer args` loads, as a module hook sees them resolved. */
  function modulesLoadedBy(args: string[]): string[] {
    const hooks = path.join(work, 'hooks.mjs');
    fs.writeFileSync(hooks, `export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug('LOADED ' + r.url); return r; }\n`);
    const register = path.join(work, 'register.mjs');
    fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
    const r = spawnSync(process.execPath, ['--import', register, COFFER_BIN, ...args], { env: { ...process.env, COFFER_PASSWORD: PASSWORD } });
    expect(r.status, r.stderr.toString()).toBe(0);
    return [...r.stderr.toString().matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!);
  }

  const server = /\/(kysely|fastify|pg|mqtt|@aws-sdk|@azure|better-sqlite3|@node-rs)\/|\/dist\/(core|catalog|api|mqtt|transfer)\//;

  it('--help and --version load the flag parser alone', () => {
    for (const args of [['--help'], ['--version']]) {
      const loaded = modulesLoadedBy(args);
      expect(loaded.filter((u) => server.test(u) || /\/dist\/(repo|storage)\//.test(u))).toEqual([]);
      expect(loaded.some((u) => u.includes('/commander/'))).toBe(true);
    }
  });

  it('a command on a local repository loads neither the server nor an object-storage SDK', () => {
    const loaded = modulesLoadedBy(['-r', repo, 'snapshots']);
    expect(loaded.filter((u) => server.test(u))).toEqual([]);
    expect(loaded.filter((u) => /\/dist\/cli\/commands\//.test(u)).map((u) => path.basename(u))).toEqual(['snapshots.js']);
  });
});
