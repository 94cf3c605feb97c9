/**
 * The errors of file transfers. Adapters branch on the class: a `TransferOptionsError` is the
 * requester's fault (Kanto answers 400 `messages:parameter.invalid`), a `TransferError` is a
 * transfer or archive that failed (its message names the real cause), and a
 * `TransferCancelledError` is a transfer stopped through its AbortSignal (Kanto: CANCELED).
 */
export class TransferOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class TransferError extends Error {
  /**
   * What the remote server said (the start of its error body): for the local log only. Messages
   * travel to clients (Kanto's `e` topic), and a foreign server's words must not: they would make
   * Coffer a reader of internal services for anyone who can name a URL.
   */
  detail?: string;

  constructor(message: string, options?: ErrorOptions & { detail?: string }) {
    super(message, options);
    this.name = new.target.name;
    if (options?.detail) this.detail = options.detail;
  }
}

export class TransferCancelledError extends TransferError {}

/** Throws the cancellation error when `signal` has fired; called between steps of work. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new TransferCancelledError(`${what} cancelled`);
}

/** The text of any thrown value, with the errno code when Node gives one and the message lacks it. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const parts = [err.message || err.name];
  if (typeof code === 'string' && !err.message.includes(code)) parts.push(`(${code})`);
  // AggregateError (node's happy-eyeballs connect) hides the per-address reasons.
  if (err instanceof AggregateError && !err.message) parts.splice(0, 1, err.errors.map(describeError).join('; '));
  return parts.join(' ');
}

/** A storage server's error code (S3's `Code`, Azure's `x-ms-error-code`) as a plain token: a foreign server chooses it. */
export function errorCode(code: string): string {
  return /^[A-Za-z0-9._-]{1,64}$/.test(code) ? code : 'UnrecognizedError';
}
