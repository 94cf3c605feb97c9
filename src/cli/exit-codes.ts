/** The one place errors become exit codes: restic's codes, so scripts written for restic work. */

export const EXIT = {
  ok: 0,
  fatal: 1,
  partial: 3,
  noRepository: 10,
  locked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

/**
 * The exit code for an error a command threw. The repository layer is imported here, not at the
 * top, so that `--help` and `--version` do not load it; a command that failed has loaded it already.
 */
export async function exitCodeFor(err: unknown): Promise<number> {
  const { CancelledError, LockConflictError, RepoNotFoundError, WrongPasswordError } = await import('../repo/index.js');
  if (err instanceof RepoNotFoundError) return EXIT.noRepository;
  if (err instanceof WrongPasswordError) return EXIT.wrongPassword;
  if (err instanceof LockConflictError) return EXIT.locked;
  if (err instanceof CancelledError) return EXIT.interrupted;
  return EXIT.fatal;
}

/** An error whose message is for the user as is (bad flag values and the like): no stack trace. */
export class UsageError extends Error {}
