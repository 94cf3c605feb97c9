/**
 * The S3 backend's settings from the repository's options (restic's `-o s3.*`) and, for what is not
 * given there, the environment variables restic reads.
 */
import { type BackendOptions, optionOrEnv } from './options.js';
import { type S3Location, isAwsHost, parseS3Location } from './s3-location.js';

export type BucketLookup = 'auto' | 'dns' | 'path';

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3Settings {
  readonly where: S3Location;
  /** Undefined: the SDK's default chain (shared config files, instance roles). */
  readonly credentials?: S3Credentials;
  readonly region: string;
  /** Path-style requests (`host/bucket/key`) instead of virtual-hosted ones (`bucket.host/key`). */
  readonly forcePathStyle: boolean;
  /** Not AWS: send checksums only when an operation requires them (Ceph rejects aws-chunked bodies). */
  readonly checksumsWhenRequired: boolean;
  readonly connections: number;
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
}

/** restic's default for `s3.connections`. */
export const DEFAULT_CONNECTIONS = 5;
export const DEFAULT_ATTEMPTS = 10;

export function s3Settings(rest: string, options: BackendOptions, env: NodeJS.ProcessEnv): S3Settings {
  const where = parseS3Location(rest);
  const accessKeyId = optionOrEnv(options, ['s3.access-key-id'], env, ['AWS_ACCESS_KEY_ID']);
  const secretAccessKey = optionOrEnv(options, ['s3.secret-access-key'], env, ['AWS_SECRET_ACCESS_KEY']);
  const sessionToken = optionOrEnv(options, ['s3.session-token'], env, ['AWS_SESSION_TOKEN']);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new Error(`s3: ${accessKeyId === undefined ? 'a secret access key' : 'an access key id'} is set without ${accessKeyId === undefined ? 'an access key id (s3.access-key-id or AWS_ACCESS_KEY_ID)' : 'its secret (s3.secret-access-key or AWS_SECRET_ACCESS_KEY)'}`);
  }
  const credentials = accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
  const region = optionOrEnv(options, ['s3.region'], env, ['AWS_DEFAULT_REGION', 'AWS_REGION']) ?? 'us-east-1';
  const lookup = (options['s3.bucket-lookup'] || 'auto') as BucketLookup;
  if (!['auto', 'dns', 'path'].includes(lookup)) throw new Error(`s3.bucket-lookup must be auto, dns or path, not ${JSON.stringify(lookup)}`);
  const aws = isAwsHost(where.host);
  return {
    where,
    ...(credentials ? { credentials } : {}),
    region,
    forcePathStyle: lookup === 'path' || (lookup === 'auto' && !aws),
    checksumsWhenRequired: !aws,
    connections: positiveInt(options, 's3.connections', DEFAULT_CONNECTIONS),
    // restic's `s3.retries` counts retries; the SDK counts attempts.
    maxAttempts: positiveInt(options, 's3.retries', DEFAULT_ATTEMPTS - 1) + 1,
  };
}

function positiveInt(options: BackendOptions, key: string, fallback: number): number {
  const text = options[key];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < (key === 's3.retries' ? 0 : 1)) throw new Error(`${key} must be a ${key === 's3.retries' ? 'non-negative' : 'positive'} integer, not ${JSON.stringify(text)}`);
  return n;
}
