/**
 * Core's errors: a code from a closed set, a message for people, and for `invalid` the field at
 * fault. Every adapter maps every code to its own status and body (a Record over `CoreErrorCode`,
 * so a new code breaks the build of any surface that has no word for it).
 */
export const CORE_ERROR_CODES = [
  'invalid', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'quota_exceeded', 'too_many_attempts', 'unavailable', 'internal',
] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

export class CoreError extends Error {
  constructor(readonly code: CoreErrorCode, message: string, readonly field?: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CoreError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

export const invalid = (field: string, message: string) => new CoreError('invalid', `${field}: ${message}`, field);
export const notFound = (what: string) => new CoreError('not_found', `${what} not found`);
export const conflict = (message: string) => new CoreError('conflict', message);
