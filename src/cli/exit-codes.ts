/** The one place errors become exit codes: restic's codes, so scripts written for restic work. */
import { CancelledError, LockConflictError, RepoNotFoundError, WrongPasswordError } from '../repo/index.js';

export const EXIT = {
  ok: 0,
  fatal: 1,
  partial: 3,
  noRepository: 10,
  locked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof RepoNotFoundError) return EXIT.noRepository;
  if (err instanceof WrongPasswordError) return EXIT.wrongPassword;
  if (err instanceof LockConflictError) return EXIT.locked;
  if (err instanceof CancelledError) return EXIT.interrupted;
  return EXIT.fatal;
}

/** An error whose message is for the user as is (bad flag values and the like): no stack trace. */
export class UsageError extends Error {}
