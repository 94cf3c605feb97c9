/**
 * `coffer admin …`: recovery on the server's own machine, with its data directory (catalog and
 * secret) at hand. The Core is opened without its services, so a running server is not disturbed.
 */
import { userInfo } from 'node:os';
import { type Actor, Core, localAdminActor } from '../../core/index.js';
import { promptHidden } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { coreLocations, explainStartupError, resolveServeConfig } from '../serve-config.js';

/** Runs `fn` on the Core of the data the flags name (as `serve` resolves them), as the local admin. */
async function withCore<T>(flags: Record<string, unknown>, fn: (core: Core, actor: Actor) => Promise<T>): Promise<T> {
  const cfg = resolveServeConfig(flags);
  for (const w of cfg.warnings) process.stderr.write(`coffer: warning: ${w}\n`);
  let core: Core;
  try {
    core = await Core.openExisting(coreLocations(cfg));
  } catch (err) {
    // A file-system error names the setting its path came from; other errors (a catalog that is not one) stay as they are.
    if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).path !== undefined) throw new UsageError(explainStartupError(err, cfg));
    throw err;
  }
  try {
    return await fn(core, localAdminActor(osUser()));
  } finally {
    await core.stop();
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
}

/** COFFER_NEW_PASSWORD, else asked on a terminal (twice), else undefined: the Core makes one up. */
async function newPassword(): Promise<string | undefined> {
  const given = process.env.COFFER_NEW_PASSWORD;
  if (given !== undefined) return given;
  if (!process.stdin.isTTY) return undefined;
  const entered = await promptHidden('new password: ');
  if ((await promptHidden('new password again: ')) !== entered) throw new UsageError('passwords do not match');
  return entered;
}

export async function resetPasswordCommand(user: string, flags: Record<string, unknown>): Promise<number> {
  const password = await newPassword();
  const r = await withCore(flags, (core, actor) => core.auth.resetPassword(actor, user, password));
  process.stdout.write(`Password of user ${user} set.\n`);
  if (r.generated) process.stdout.write(`New password: ${r.password}\nStore it now: it is not shown again.\n`);
  return 0;
}

export async function createKeyCommand(user: string, flags: Record<string, unknown>): Promise<number> {
  const k = await withCore(flags, (core, actor) => core.auth.createKey(actor, user, flags['label'] ?? 'coffer admin create-key'));
  process.stderr.write(`API key ${k.id} of user ${user} (shown once; store it now):\n`);
  process.stdout.write(`${k.key}\n`);
  return 0;
}

/** The password alone on stdout, for `RESTIC_PASSWORD=$(coffer admin repository-password NAME …)`. */
export async function repositoryPasswordCommand(name: string, flags: Record<string, unknown>): Promise<number> {
  const password = await withCore(flags, (core, actor) => core.repositories.password(actor, name));
  process.stdout.write(`${password}\n`);
  return 0;
}
