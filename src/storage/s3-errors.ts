/**
 * Turning what the AWS SDK throws into the storage layer's errors, with messages that name the
 * bucket, the key, the HTTP status and the server's error code, and never a credential.
 */
import { NotFoundError, StorageError } from './backend.js';

export interface SdkFailure {
  readonly name: string;
  readonly message: string;
  readonly status?: number;
  /** How many times the SDK sent the request (1 = no retry). */
  readonly attempts: number;
  /** The network-level code (ECONNREFUSED, ECONNRESET …), if any. */
  readonly code?: string;
}

export function sdkFailure(err: unknown): SdkFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
  };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const attempts = typeof e.$metadata?.attempts === 'number' ? e.$metadata.attempts : 1;
  const name = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : 'Error';
  return {
    name,
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(status !== undefined ? { status } : {}),
    attempts,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}

/** Missing object: 404 on GET/HEAD (HEAD answers carry no body, so no code). */
export function isMissingKey(f: SdkFailure): boolean {
  return f.name === 'NoSuchKey' || (f.status === 404 && f.name !== 'NoSuchBucket');
}

/** `op` is what we tried (`save`, `load` …), `key` the object (undefined for bucket-level calls). */
export function s3Error(err: unknown, op: string, bucket: string, key: string | undefined): StorageError {
  if (err instanceof StorageError) return err;
  const f = sdkFailure(err);
  const target = key === undefined ? `bucket ${bucket}` : `${bucket}/${key}`;
  if (f.name === 'NoSuchBucket') return new NotFoundError(`s3 ${op} ${target}: the bucket ${bucket} does not exist (NoSuchBucket)`, { cause: err });
  if (key !== undefined && isMissingKey(f)) return new NotFoundError(`s3 ${op} ${target}: no such object (${f.status ?? 404} ${f.name})`, { cause: err });
  const status = f.status !== undefined ? `HTTP ${f.status} ` : '';
  const code = f.code && f.code !== f.name ? ` [${f.code}]` : '';
  const retried = f.attempts > 1 ? ` (after ${f.attempts} attempts)` : '';
  // HEAD answers have no body, so the SDK can only name the status; say what a bare 403 usually means.
  const hint = f.status === 403 && (f.name === 'Forbidden' || f.name === '403') ? ': access denied (wrong credentials or no permission)' : `: ${f.message}`;
  return new StorageError(`s3 ${op} ${target} failed: ${status}${f.name}${code}${hint}${retried}`, { cause: err });
}
