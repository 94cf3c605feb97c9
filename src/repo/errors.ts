/**
 * Repository errors with stable codes. The CLI maps them to restic's exit codes in one place;
 * the server maps them to HTTP statuses. Callers branch on the class, never on message text.
 */
export class RepoError extends Error {
  readonly code: string = 'REPO_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No repository at the location (restic exit code 10). */
export class RepoNotFoundError extends RepoError {
  override readonly code = 'REPO_NOT_FOUND';
}

/** No key file opens with the given password (restic exit code 12). */
export class WrongPasswordError extends RepoError {
  override readonly code = 'WRONG_PASSWORD';
}

/** A repository file failed authentication or parsing: the data is damaged or was tampered with. */
export class IntegrityError extends RepoError {
  override readonly code = 'INTEGRITY';
}

/** Another process holds a conflicting lock (restic exit code 11). */
export class LockConflictError extends RepoError {
  override readonly code = 'LOCKED';
}

/** The repository's format version or a file's encoding is one this code does not understand. */
export class UnsupportedFormatError extends RepoError {
  override readonly code = 'UNSUPPORTED';
}

/** Asked for something that does not exist: snapshot, blob, key. */
export class NotFoundInRepoError extends RepoError {
  override readonly code = 'NOT_FOUND';
}

/** The operation was cancelled through its AbortSignal. */
export class CancelledError extends RepoError {
  override readonly code = 'CANCELLED';
}

/** None of the paths given to back up exists. */
export class NothingToBackUpError extends RepoError {
  override readonly code = 'NOTHING_TO_BACK_UP';
}
