/** What every repository command needs: where the repository is, its password, output mode. */
import { readFileSync } from 'node:fs';
import { Repository } from '../repo/index.js';
import { type Backend, type BackendOptions, openBackend, parseOptionAssignment } from '../storage/index.js';
import { UsageError } from './exit-codes.js';

export interface GlobalOptions {
  repo?: string;
  /** `-o key=value`, repeatable, as restic takes backend options. */
  option?: string[];
  passwordFile?: string;
  json?: boolean;
  quiet?: boolean;
}

export function repoLocation(g: GlobalOptions): string {
  const loc = g.repo ?? process.env.COFFER_REPOSITORY;
  if (!loc) throw new UsageError('no repository given: use -r/--repo or set COFFER_REPOSITORY');
  return loc;
}

/** As restic reads --password-file: the first line, without its newline; a missing or empty file is an error of its own. */
export function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`password file ${file} does not exist`);
    throw new UsageError(`cannot read password file ${file}: ${(err as Error).message}`);
  }
  const line = text.split(/\r?\n/)[0]!;
  if (line === '') throw new UsageError(`password file ${file} is empty: an empty password is not allowed`);
  return line;
}

/** Reads a line from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const rlOut = rl as unknown as { _writeToOutput: (s: string) => void };
  let muted = false;
  rlOut._writeToOutput = (s: string): void => {
    if (!muted || s.includes('\n')) process.stderr.write(muted ? '\n' : s);
  };
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      muted = true;
    });
  } finally {
    rl.close();
  }
}

/**
 * The repository password: --password-file, COFFER_PASSWORD_FILE, COFFER_PASSWORD, or, on a
 * terminal, a prompt (twice, to confirm, when creating a repository), as restic asks. An empty
 * password is refused wherever it comes from, as restic refuses it.
 */
export async function password(g: GlobalOptions, confirm = false): Promise<string> {
  if (g.passwordFile) return readPasswordFile(g.passwordFile);
  const file = process.env.COFFER_PASSWORD_FILE;
  if (file) return readPasswordFile(file);
  const pw = process.env.COFFER_PASSWORD;
  if (pw === '') throw new UsageError('COFFER_PASSWORD is empty: an empty password is not allowed');
  if (pw !== undefined) return pw;
  if (!process.stdin.isTTY) throw new UsageError('no password given: set COFFER_PASSWORD or use --password-file');
  const entered = await promptHidden(confirm ? 'enter password for new repository: ' : 'enter password for repository: ');
  if (confirm && (await promptHidden('enter password again: ')) !== entered) throw new UsageError('passwords do not match');
  if (entered === '') throw new UsageError('an empty password is not allowed');
  return entered;
}

/** The `-o key=value` options; credentials not given here come from the environment (AWS_*, AZURE_*), as in restic. */
export function backendOptions(g: GlobalOptions): BackendOptions {
  const out: Record<string, string> = {};
  for (const text of g.option ?? []) {
    try {
      const [k, v] = parseOptionAssignment(text);
      out[k] = v;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return out;
}

export function backendFor(g: GlobalOptions): Backend {
  const location = repoLocation(g);
  try {
    return openBackend(location, backendOptions(g));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`repository ${location}: ${(err as Error).message}`);
  }
}

export async function openRepo(g: GlobalOptions): Promise<Repository> {
  return Repository.open(backendFor(g), await password(g));
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
