/**
 * Turns the Azure SDK's errors into Coffer's storage errors with messages that name the container,
 * the blob, the HTTP status and the service's error code — and nothing secret: the SDK's error
 * carries the request (URL with a SAS signature, headers), so it is summarised, never attached.
 */
import { NotFoundError, ShortReadError, StorageError } from './backend.js';

export interface AzureFailure {
  /** HTTP status, when the service answered. */
  readonly status: number | undefined;
  /** The service's `x-ms-error-code` (BlobNotFound, AuthenticationFailed, …) or a network code (ECONNRESET). */
  readonly code: string | undefined;
  /** First line of the service's message, with anything that looks like a signature removed. */
  readonly message: string;
}

export function describeFailure(err: unknown): AzureFailure {
  if (typeof err !== 'object' || err === null) return { status: undefined, code: undefined, message: String(err) };
  const e = err as { statusCode?: unknown; code?: unknown; details?: unknown; message?: unknown; response?: { headers?: { get?: (n: string) => string | undefined } } };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {};
  const headerCode = typeof e.response?.headers?.get === 'function' ? e.response.headers.get('x-ms-error-code') : undefined;
  const code = [details['errorCode'], headerCode, e.code].find((c): c is string => typeof c === 'string' && c !== '');
  const firstLine = (typeof e.message === 'string' ? e.message : String(err)).split('\n')[0]!.trim();
  return { status, code, message: scrub(firstLine) };
}

/** Removes SAS signatures and shared-key signatures should a message ever echo a URL or header. */
function scrub(text: string): string {
  return text.replace(/([?&]sig=)[^&\s]+/gi, '$1REDACTED').replace(/(SharedKey [^:\s]+:)\S+/g, '$1REDACTED');
}

export function failureText(f: AzureFailure): string {
  const parts = [f.status !== undefined ? String(f.status) : undefined, f.code, f.message].filter((p) => p !== undefined && p !== '');
  return parts.join(' ');
}

export function isStatus(err: unknown, ...codes: string[]): boolean {
  const f = describeFailure(err);
  return f.code !== undefined && codes.includes(f.code);
}

/** What went wrong with which blob, as a message people can act on. */
export function storageError(op: string, target: string, err: unknown): StorageError {
  const f = describeFailure(err);
  const why = failureText(f);
  if (f.code === 'ContainerNotFound') return new NotFoundError(`azure: cannot ${op} ${target}: the container does not exist (${why}); create the repository first`);
  if (f.status === 404 || f.code === 'BlobNotFound') return new NotFoundError(`azure: ${target} does not exist (${why})`);
  if (f.status === 403) {
    return new StorageError(`azure: cannot ${op} ${target}: access denied (${why}); check the account name and key or the SAS token and its permissions`);
  }
  if (f.status === 416 || f.code === 'InvalidRange') return new ShortReadError(`azure: ${target} is shorter than the range asked for (${why})`);
  if (f.code === 'ConditionNotMet') return new StorageError(`azure: cannot ${op} ${target}: it changed while being read (${why})`);
  return new StorageError(`azure: cannot ${op} ${target}: ${why}`);
}
