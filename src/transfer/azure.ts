/**
 * The azure provider: a block blob addressed by a SAS URL, as Kanto does (KANTO.md 2.4, 3.2):
 * endpoint + container + '/' + name + '?' + SAS, an anonymous client, no account key on the device.
 */
import * as path from 'node:path';
import { AnonymousCredential, BlockBlobClient, RestError, newPipeline } from '@azure/storage-blob';
import { publicOnlyAgents } from './address-guard.js';
import { TransferCancelledError, TransferError, describeError, errorCode, throwIfCancelled } from './errors.js';
import { type DownloadBody, uploadSize } from './local-file.js';
import { type AzureSettings, type TransferControl, displayUrl } from './options.js';

const BLOCK_SIZE = 8 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 4;
/** The SDK retries failed requests itself; a few quick tries, so a dead endpoint fails in seconds, not minutes. */
const RETRY = { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000 };

/** Kanto names the blob after the file; `azure.blob.name` (Coffer's) or the caller's name may override. */
export function blobNameFor(file: string, s: AzureSettings, c: TransferControl): string {
  return s.blobName ?? c.objectName ?? path.basename(file);
}

function blobUrl(s: AzureSettings, name: string): string {
  // Each segment escaped; `/` kept, since Azure treats it as a virtual directory separator.
  const escaped = name.split('/').map(encodeURIComponent).join('/');
  return `${s.endpoint}${encodeURIComponent(s.container)}/${escaped}?${s.sas}`;
}

/**
 * `c.allowPrivateAddresses` off: the endpoint (azure.storage.endpoint arrives from the network
 * too) must be public, as https.url must; every request of the client goes through the guarded
 * agents (a policy sets them, as the SDK's pipeline offers no agent option).
 */
function blobClient(s: AzureSettings, name: string, c: TransferControl): BlockBlobClient {
  const pipeline = newPipeline(new AnonymousCredential(), { retryOptions: RETRY });
  const agents = publicOnlyAgents(s.endpoint, c.allowPrivateAddresses);
  if (agents) {
    pipeline.factories.push({
      create: (next) => ({
        sendRequest: (request) => {
          request.agent = request.url.startsWith('https:') ? agents.https : agents.http;
          return next.sendRequest(request);
        },
      }),
    });
  }
  return new BlockBlobClient(blobUrl(s, name), pipeline);
}

export async function azureUpload(file: string, s: AzureSettings, c: TransferControl): Promise<{ location: string }> {
  const name = blobNameFor(file, s, c);
  const location = displayUrl(blobUrl(s, name));
  const what = `Azure upload to ${location}`;
  throwIfCancelled(c.signal, what);
  const size = await uploadSize(file);
  try {
    const res = await blobClient(s, name, c).uploadFile(file, {
      blockSize: BLOCK_SIZE,
      concurrency: BLOCKS_IN_FLIGHT,
      onProgress: (p) => c.onProgress?.(p.loadedBytes, size),
      ...(c.signal ? { abortSignal: c.signal } : {}),
    });
    // Kanto checks for 201 Created (Put Blob and Put Block List both answer it).
    const status = res._response.status;
    if (status !== 201) throw new TransferError(`${what} failed: the server answered ${status}, not 201 Created`);
    return { location };
  } catch (err) {
    throw azureError(err, what, c.signal);
  }
}

export async function azureDownloadBody(s: AzureSettings, name: string, c: TransferControl): Promise<DownloadBody> {
  const what = `Azure download of ${displayUrl(blobUrl(s, name))}`;
  try {
    const res = await blobClient(s, name, c).download(0, undefined, c.signal ? { abortSignal: c.signal } : {});
    if (!res.readableStreamBody) throw new TransferError(`${what} failed: the server sent no body`);
    return { body: res.readableStreamBody, total: res.contentLength };
  } catch (err) {
    throw azureError(err, what, c.signal);
  }
}

/** Azure's error code and HTTP status; the first line of its message only in `detail`. */
function azureError(err: unknown, what: string, signal: AbortSignal | undefined): TransferError {
  if (err instanceof TransferError) return err;
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) return new TransferCancelledError(`${what} cancelled`, { cause: err });
  if (err instanceof RestError) {
    const head = (err.message ?? '').split('\n')[0]?.trim() ?? '';
    const code = err.code ?? (err.details as { errorCode?: string } | undefined)?.errorCode;
    const parts = [code !== undefined ? errorCode(code) : undefined, err.statusCode !== undefined ? `(HTTP ${err.statusCode})` : undefined].filter(Boolean).join(' ');
    // No answer at all (the connection failed or was refused): the reason is ours, not a server's text.
    if (err.statusCode === undefined) return new TransferError(`${what} failed: ${describeError(err)}`, { cause: err });
    // The code and status only: the message is the server's own text (for the local log, in `detail`).
    return new TransferError(`${what} failed: ${parts}`, { cause: err, detail: head });
  }
  return new TransferError(`${what} failed: ${describeError(err)}`, { cause: err });
}
