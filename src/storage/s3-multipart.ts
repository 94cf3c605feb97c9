/**
 * Uploading a local file as an S3 multipart upload in constant memory: one part buffer at a time,
 * each part read afresh from the file and sent as a buffer, so the SDK's retry middleware can
 * resend a part after a fault (it refuses to resend a consumed stream). An upload that fails is
 * aborted so that no orphaned parts stay billed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface MultipartTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Send `If-None-Match: *` on completion (AWS honours it; Ceph Pacific ignores it). */
  readonly ifNoneMatch: boolean;
}

/** The upload failed; `stage` says whether the parts or the completion did. */
export class MultipartUploadFailed extends Error {
  constructor(
    readonly stage: 'parts' | 'complete',
    /** The ETag the object has if the completion did take effect (its answer may have been lost). */
    readonly expectedETag: string,
    cause: unknown,
  ) {
    super(`multipart upload failed while ${stage === 'parts' ? 'sending parts' : 'completing'}`, { cause });
    this.name = 'MultipartUploadFailed';
  }
}

/** Returns the ETag S3 gives the completed object: MD5 of the parts' MD5s, `-` and the part count. */
export async function uploadFileMultipart(t: MultipartTarget, file: string, size: number, partSize: number): Promise<string> {
  const handle = await fs.open(file, 'r');
  try {
    const { UploadId } = await t.client.send(new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: t.key }));
    if (!UploadId) throw new Error(`s3 CreateMultipartUpload for ${t.bucket}/${t.key} returned no upload id`);
    const digests: Buffer[] = [];
    let stage: 'parts' | 'complete' = 'parts';
    try {
      const parts = await uploadParts(t, UploadId, handle, file, size, partSize, digests);
      stage = 'complete';
      await t.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: t.bucket,
          Key: t.key,
          UploadId,
          MultipartUpload: { Parts: parts },
          ...(t.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return multipartETag(digests);
    } catch (err) {
      // Best effort: after a completion whose answer was lost the upload id is gone, and that is fine.
      await t.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId })).catch(() => undefined);
      throw new MultipartUploadFailed(stage, multipartETag(digests), err);
    }
  } finally {
    await handle.close();
  }
}

async function uploadParts(t: MultipartTarget, UploadId: string, handle: fs.FileHandle, file: string, size: number, partSize: number, digests: Buffer[]) {
  const parts: { PartNumber: number; ETag: string }[] = [];
  // One buffer for every part: the previous part's request has finished (retries included) before the next read.
  const buf = Buffer.allocUnsafe(Math.min(partSize, size));
  for (let offset = 0, n = 1; offset < size; offset += partSize, n++) {
    const len = Math.min(partSize, size - offset);
    const part = buf.subarray(0, len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await handle.read(part, got, len - got, offset + got);
      if (bytesRead === 0) throw new Error(`${file} shrank while it was being uploaded (${offset + got} of ${size} bytes)`);
      got += bytesRead;
    }
    const md5 = createHash('md5').update(part).digest();
    digests.push(md5);
    // Content-MD5 makes the server check every part's bytes: nothing corrupted in transit is stored.
    const r = await t.client.send(
      new UploadPartCommand({ Bucket: t.bucket, Key: t.key, UploadId, PartNumber: n, Body: part, ContentLength: len, ContentMD5: md5.toString('base64') }),
    );
    parts.push({ PartNumber: n, ETag: r.ETag ?? `"${md5.toString('hex')}"` });
  }
  return parts;
}

export function multipartETag(partDigests: readonly Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(partDigests)).digest('hex')}-${partDigests.length}"`;
}
