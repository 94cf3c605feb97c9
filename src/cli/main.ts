/**
 * The `coffer` command line: restic-style commands over the repository layer. Each command module
 * only wires the layer's functions together; errors become exit codes in `exitCodeFor` alone.
 * A command's module is imported when that command runs, so a run loads only what its command
 * needs: `coffer snapshots` never loads the server, the catalog or an object-storage SDK it does
 * not use.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { GlobalOptions } from './context.js';
import { collect, collectRaw, parseCount } from './options.js';
import { EXIT, UsageError, exitCodeFor } from './exit-codes.js';
import { LOCATION_SETTINGS, RENAMED_SETTINGS, SERVE_SETTINGS, envName } from './serve-settings.js';

/**
 * The version `--version` prints, from the package's manifest: importing the repository layer for
 * its `VERSION` would double the start-up time of `--help` and `--version`. `coffer version`
 * reports the repository layer's, and a test keeps the two equal.
 */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function count(value: string): number {
  try {
    return parseCount(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export async function main(argv: string[]): Promise<number> {
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 0;
  const program = new Command('coffer')
    .description('Coffer: encrypted, deduplicated backups in restic-format repositories')
    .version(packageVersion())
    .option('-r, --repo <location>', 'repository location (or COFFER_REPOSITORY): a path, s3:https://host/bucket/prefix, azure:container:/prefix')
    .option('-o, --option <key=value>', 'backend option, e.g. s3.region=eu-west-1 (repeatable; credentials also from AWS_* / AZURE_* variables)', collectRaw)
    .option('--password-file <file>', 'read the repository password from a file (or COFFER_PASSWORD / COFFER_PASSWORD_FILE)')
    .option('--json', 'machine-readable output')
    .option('-q, --quiet', 'print nothing but errors')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = (fn: () => Promise<number>) => async (): Promise<void> => {
    code = await fn();
  };

  program.command('init').description('create a new repository').action(run(async () => (await import('./commands/init.js')).initCommand(g())));

  program.command('backup').description('create a snapshot of files or of standard input')
    .argument('[paths...]', 'files and directories to back up')
    .addOption(new Option('--type <type>', 'full | incremental | differential').choices(['full', 'incremental', 'differential']))
    .option('--tag <tags>', 'add tags (repeatable, comma separated)', collect)
    .option('--host <name>', 'hostname recorded in the snapshot')
    .option('-e, --exclude <pattern>', 'exclude a pattern (repeatable)', collectRaw)
    .option('--iexclude <pattern>', 'like --exclude, ignoring case (repeatable)', collectRaw)
    .option('--exclude-file <file>', 'read exclude patterns from a file (repeatable)', collectRaw)
    .option('--stdin', 'read the data to back up from standard input')
    .option('--stdin-filename <name>', 'file name for the --stdin data', 'stdin')
    .option('--parent <snapshot>', 'use this parent snapshot instead of choosing one')
    .option('-f, --force', 'read every file (no parent)')
    .option('--workers <n>', 'file-processing threads (default: one per core)')
    .action(async (paths: string[], o: Record<string, unknown>) => {
      code = await (await import('./commands/backup.js')).backupCommand(g(), paths, o, abort.signal);
    });

  program.command('snapshots').description('list snapshots')
    .option('--host <name>', 'only snapshots of this host')
    .option('--tag <tags>', 'only snapshots with these tags', collect)
    .option('--path <path>', 'only snapshots including this path', collectRaw)
    .option('--latest <n>', 'only the latest n snapshots', count)
    .action(async (o: Record<string, unknown>) => {
      code = await (await import('./commands/snapshots.js')).snapshotsCommand(g(), o);
    });

  program.command('restore').description('restore a snapshot')
    .argument('<snapshot>', 'snapshot id (or prefix) or "latest"')
    .option('-t, --target <dir>', 'directory to restore into')
    .option('-i, --include <pattern>', 'restore only matching paths (repeatable)', collectRaw)
    .option('-e, --exclude <pattern>', 'do not restore matching paths (repeatable)', collectRaw)
    .option('--host <name>', 'for latest: only snapshots of this host')
    .option('--path <path>', 'for latest: only snapshots including this path', collectRaw)
    .option('--tag <tags>', 'for latest: only snapshots with these tags', collect)
    .action(async (ref: string, o: Record<string, unknown>) => {
      code = await (await import('./commands/restore.js')).restoreCommand(g(), ref, o, abort.signal);
    });

  program.command('check').description('check the repository for errors')
    .option('--read-data', 'read and verify every pack')
    .option('--read-data-subset <n/t|x%>', 'read and verify a subset of the packs')
    .action(async (o: Record<string, unknown>) => {
      code = await (await import('./commands/check.js')).checkCommand(g(), o, abort.signal);
    });

  const forget = program.command('forget').description('remove snapshots according to a policy')
    .option('-l, --keep-last <n>', 'keep the last n snapshots', count)
    .option('-H, --keep-hourly <n>', 'keep the last n hourly snapshots', count)
    .option('-d, --keep-daily <n>', 'keep the last n daily snapshots', count)
    .option('-w, --keep-weekly <n>', 'keep the last n weekly snapshots', count)
    .option('-m, --keep-monthly <n>', 'keep the last n monthly snapshots', count)
    .option('-y, --keep-yearly <n>', 'keep the last n yearly snapshots', count);
  for (const unit of ['', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']) {
    forget.option(`--keep-within${unit ? `-${unit}` : ''} <duration>`, `keep ${unit || 'all'} snapshots within the duration (e.g. 1y5m7d2h)`);
  }
  forget
    .option('--keep-tag <tags>', 'keep snapshots with these tags (repeatable)', collectRaw)
    .option('--host <name>', 'only consider snapshots of this host')
    .option('--tag <tags>', 'only consider snapshots with these tags', collect)
    .option('--path <path>', 'only consider snapshots including this path', collectRaw)
    .option('-g, --group-by <fields>', 'group snapshots by host, paths and/or tags', 'host,paths')
    .option('-n, --dry-run', 'only show what would be removed')
    .option('--prune', 'run prune afterwards')
    .option('--max-unused <pct>', 'for --prune: tolerated unused space', '5%')
    .action(async (o: Record<string, unknown>) => {
      code = await (await import('./commands/forget.js')).forgetCommand(g(), o, abort.signal);
    });

  program.command('prune').description('remove data not referenced by any snapshot')
    .option('--max-unused <pct>', 'tolerated unused space, as a percentage of used space', '5%')
    .option('-n, --dry-run', 'only show what would be removed')
    .action(async (o: Record<string, unknown>) => {
      code = await (await import('./commands/prune.js')).pruneCommand(g(), o, abort.signal);
    });

  const key = program.command('key').description('manage the repository\'s keys (passwords)');
  key.command('list').description('list keys').action(run(async () => (await import('./commands/key.js')).keyListCommand(g())));
  key.command('add').description('add a key (new password from COFFER_NEW_PASSWORD or --new-password-file)')
    .option('--new-password-file <file>', 'file holding the new password')
    .option('--user <name>', 'user name recorded in the key')
    .option('--host <name>', 'host name recorded in the key')
    .action(async (o: Record<string, unknown>) => {
      code = await (await import('./commands/key.js')).keyAddCommand(g(), o);
    });
  key.command('remove').description('remove a key').argument('<id>', 'key id or prefix')
    .action(async (id: string) => {
      code = await (await import('./commands/key.js')).keyRemoveCommand(g(), id);
    });

  program.command('unlock').description('remove stale locks')
    .option('--remove-all', 'remove all locks, even active ones')
    .action(async (o: { removeAll?: boolean }) => {
      code = await (await import('./commands/unlock.js')).unlockCommand(g(), o);
    });

  program.command('version').description('print version information')
    .action(run(async () => (await import('./commands/version.js')).versionCommand(g())));

  const serve = program.command('serve').description('run the Coffer server (settings: flags, then COFFER_* variables, then --config file)')
    .option('--config <file>', 'JSON config file (or COFFER_CONFIG)');
  for (const [name, s] of Object.entries(SERVE_SETTINGS)) {
    const def = s.def === undefined ? '' : ` (default ${JSON.stringify(s.def)})`;
    if (s.kind === 'bool') serve.option(`--${name}`, `${s.help}; ${envName(name)}${def}`);
    else serve.option(`--${name} <value>`, `${s.help}; ${envName(name)}${def}`);
  }
  // Old names, still taken (with a warning) so that existing start scripts keep working.
  for (const [old, current] of Object.entries(RENAMED_SETTINGS)) serve.addOption(new Option(`--${old} <value>`, `deprecated: --${current}`).hideHelp());
  serve.action(async (o: Record<string, unknown>) => {
    const { serveCommand } = await import('./commands/serve.js');
    code = await serveCommand(o, abort.signal);
    // A signal is how a server is told to stop: having stopped gracefully is success, not an interruption.
    interrupted = false;
  });

  const admin = program.command('admin').description('recover access on the server\'s machine (works beside a running server)');
  /** An admin subcommand: it finds the server's data as `serve` does (same flags, variables and config file). */
  const adminCommand = (name: string, description: string) => {
    const c = admin.command(name).description(description).option('--config <file>', 'JSON config file of the server (or COFFER_CONFIG)');
    for (const setting of LOCATION_SETTINGS) c.option(`--${setting} <value>`, `${SERVE_SETTINGS[setting].help}; ${envName(setting)}`);
    return c;
  };
  adminCommand('reset-password', 'set a user\'s password: COFFER_NEW_PASSWORD, else asked on a terminal, else generated and printed once')
    .argument('[user]', 'user name', 'admin')
    .action(async (user: string, o: Record<string, unknown>) => {
      code = await (await import('./commands/admin.js')).resetPasswordCommand(user, o);
    });
  adminCommand('create-key', 'make an API key for a user and print it once')
    .argument('<user>', 'user name')
    .option('--label <text>', 'label of the key')
    .action(async (user: string, o: Record<string, unknown>) => {
      code = await (await import('./commands/admin.js')).createKeyCommand(user, o);
    });
  adminCommand('repository-password', 'print a repository\'s password alone, for restic: RESTIC_PASSWORD=$(coffer admin repository-password default …)')
    .argument('<name>', 'repository name')
    .action(async (name: string, o: Record<string, unknown>) => {
      code = await (await import('./commands/admin.js')).repositoryPasswordCommand(name, o);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.fatal;
    if (err instanceof UsageError) {
      process.stderr.write(`coffer: ${err.message}\n`);
      return EXIT.fatal;
    }
    if (interrupted) {
      process.stderr.write('coffer: interrupted\n');
      return EXIT.interrupted;
    }
    const c = await exitCodeFor(err);
    process.stderr.write(`coffer: ${(err as Error).message ?? String(err)}\n`);
    if (c === EXIT.fatal && process.env.COFFER_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return c;
  }
  return interrupted && code === 0 ? EXIT.interrupted : code;
}
