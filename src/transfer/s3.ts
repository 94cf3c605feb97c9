/**
 * The aws provider: S3 or an S3-compatible server (Coffer's `aws.endpoint`, e.g. Ceph's RADOS
 * Gateway). Uploads go through lib-storage's Upload (multipart above one part, parts in parallel,
 * progress per part, abortable; a failed multipart upload is aborted so no parts are left behind).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { publicOnlyAgents } from './address-guard.js';
import { TransferCancelledError, TransferError, describeError, errorCode, throwIfCancelled } from './errors.js';
import { type DownloadBody, uploadSize } from './local-file.js';
import { type AwsSettings, type TransferControl } from './options.js';

/** lib-storage's minimum; with 4 parts in flight an upload holds at most 4 × 8 MiB in memory. */
const PART_SIZE = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

/** `c.allowPrivateAddresses` off: the endpoint (aws.endpoint arrives from the network too) must be public, as https.url must. */
function client(s: AwsSettings, c: TransferControl): S3Client {
  const agents = publicOnlyAgents(s.endpoint, c.allowPrivateAddresses);
  return new S3Client({
    ...(agents ? { requestHandler: { httpAgent: agents.http, httpsAgent: agents.https } } : {}),
    region: s.region,
    credentials: {
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      ...(s.sessionToken !== undefined ? { sessionToken: s.sessionToken } : {}),
    },
    ...(s.endpoint !== undefined
      ? {
          endpoint: s.endpoint,
          // S3-compatible servers are addressed by path (no wildcard DNS for bucket names), and
          // some (Ceph Pacific) refuse the SDK's default streamed checksums: research/DEPS.md §8.
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

/**
 * Without `aws.object.key` (and no name from the caller) the key is the file's base name. Kanto
 * uses the local path as opened instead, which puts the device's directory layout (and a leading
 * `/`, an empty first segment in S3 consoles) into every key and changes whenever the storage
 * directory moves; the base name is what a person looking at the bucket expects.
 */
export function objectKeyFor(file: string, s: AwsSettings, c: TransferControl): string {
  return s.objectKey ?? c.objectName ?? path.basename(file);
}

export async function s3Upload(file: string, s: AwsSettings, c: TransferControl): Promise<{ location: string }> {
  const key = objectKeyFor(file, s, c);
  const location = `s3://${s.bucket}/${key}`;
  const what = `S3 upload to ${location}`;
  throwIfCancelled(c.signal, what);
  const size = await uploadSize(file);
  const s3 = client(s, c);
  const upload = new Upload({
    client: s3,
    params: { Bucket: s.bucket, Key: key, Body: fs.createReadStream(file), ContentLength: size },
    partSize: PART_SIZE,
    queueSize: PARTS_IN_FLIGHT,
    leavePartsOnError: false,
  });
  upload.on('httpUploadProgress', (p) => c.onProgress?.(p.loaded ?? 0, p.total ?? size));
  const onAbort = (): void => void upload.abort().catch(() => {});
  c.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await upload.done();
    return { location };
  } catch (err) {
    throw s3Error(err, what, c.signal);
  } finally {
    c.signal?.removeEventListener('abort', onAbort);
    s3.destroy();
  }
}

export async function s3DownloadBody(s: AwsSettings, key: string, c: TransferControl): Promise<DownloadBody> {
  const what = `S3 download of s3://${s.bucket}/${key}`;
  const s3 = client(s, c);
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }), c.signal ? { abortSignal: c.signal } : {});
    if (!res.Body) throw new TransferError(`${what} failed: the server sent no body`);
    const body = res.Body as Readable;
    // The client's sockets go when the body is done with, however it ends.
    body.once('close', () => s3.destroy());
    return { body, total: res.ContentLength };
  } catch (err) {
    s3.destroy();
    throw s3Error(err, what, c.signal);
  }
}

/** S3's error code and message with the HTTP status, or the network's reason. */
function s3Error(err: unknown, what: string, signal: AbortSignal | undefined): TransferError {
  if (err instanceof TransferError) return err;
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) return new TransferCancelledError(`${what} cancelled`, { cause: err });
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    // The code and status only: the message is the server's own text (for the local log, in `detail`).
    return new TransferError(`${what} failed: ${errorCode(err.name)}${status !== undefined ? ` (HTTP ${status})` : ''}`, { cause: err, detail: err.message });
  }
  return new TransferError(`${what} failed: ${describeError(err)}`, { cause: err });
}
