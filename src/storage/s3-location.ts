/**
 * Parsing an S3 repository location as restic spells it (restic `internal/backend/s3/config.go`,
 * `ParseConfig`): `s3:http://host:port/bucket/prefix`, `s3:https://host/bucket`, or without a
 * scheme `s3:host/bucket/prefix` and `s3://host/bucket/prefix`, which mean HTTPS.
 */
import * as path from 'node:path';

export interface S3Location {
  /** `http://host:port` or `https://host`: where the SDK sends requests. */
  readonly endpoint: string;
  /** The host (and port) alone, to recognise AWS endpoints. */
  readonly host: string;
  readonly bucket: string;
  /** The key prefix inside the bucket, without leading or trailing `/`; empty for the bucket's root. */
  readonly prefix: string;
  /** The location as the user would type it again, without any user:password part. */
  readonly display: string;
}

/** `rest` is what follows `s3:` in the location. */
export function parseS3Location(rest: string): S3Location {
  if (/^https?:/.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw new Error(`s3: ${JSON.stringify(rest)} is not a valid URL`);
    }
    if (!url.host) throw new Error(`s3: no host in ${JSON.stringify(rest)}`);
    const [bucket, prefix] = splitBucket(decodeURIComponent(url.pathname.replace(/^\//, '')), rest);
    const scheme = url.protocol.slice(0, -1);
    return build(`${scheme}://${url.host}`, url.host, bucket, prefix, `${scheme}://${url.host}`);
  }
  // `s3://host/...` reaches us as `//host/...`; restic reads it like `s3:host/...`.
  const bare = rest.replace(/^\/\//, '');
  const slash = bare.indexOf('/');
  const host = slash < 0 ? bare : bare.slice(0, slash);
  if (!host || host.includes('@')) throw new Error(`s3: no host in ${JSON.stringify(rest)} (expected s3:host/bucket/prefix)`);
  const [bucket, prefix] = splitBucket(slash < 0 ? '' : bare.slice(slash + 1), rest);
  return build(`https://${host}`, host, bucket, prefix, host);
}

function splitBucket(pathPart: string, original: string): [string, string] {
  const slash = pathPart.indexOf('/');
  const bucket = slash < 0 ? pathPart : pathPart.slice(0, slash);
  if (!bucket) throw new Error(`s3: bucket name not found in ${JSON.stringify(original)} (expected s3:host/bucket/prefix)`);
  const raw = slash < 0 ? '' : pathPart.slice(slash + 1);
  // restic cleans the prefix (path.Clean): `a//b/` and `a/./b` name the same keys as `a/b`.
  let prefix = raw === '' ? '' : path.posix.normalize(raw).replace(/^\/+|\/+$/g, '');
  if (prefix === '.') prefix = '';
  if (prefix.split('/').includes('..')) throw new Error(`s3: the prefix in ${JSON.stringify(original)} leaves the bucket`);
  return [bucket, prefix];
}

function build(endpoint: string, host: string, bucket: string, prefix: string, shownHost: string): S3Location {
  return { endpoint, host, bucket, prefix, display: `s3:${shownHost}/${bucket}${prefix ? `/${prefix}` : ''}` };
}

/** AWS's own endpoints; for these `bucket-lookup=auto` means virtual-hosted (DNS) style. */
export function isAwsHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').toLowerCase();
  return name === 'amazonaws.com' || name.endsWith('.amazonaws.com') || name.endsWith('.amazonaws.com.cn');
}
