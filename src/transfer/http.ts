/**
 * The generic provider: one plain HTTP(S) request per transfer, as Kanto's does (KANTO.md 3.2,
 * 3.3). Uploads stream the file with its exact Content-Length; downloads follow redirects like
 * Go's client (Kanto's) does. Network failures are real errors here: Kanto swallows them on
 * download (KANTO.md 2.6), which turns a refused connection into a puzzling unzip failure.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tls from 'node:tls';
import { checkLiteralHost, publicOnlyLookup } from './address-guard.js';
import { TransferCancelledError, TransferError, describeError, throwIfCancelled } from './errors.js';
import { type DownloadBody, uploadSize } from './local-file.js';
import { type HttpSettings, type TransferControl, displayUrl } from './options.js';
import { ByteCounter } from './progress.js';

/** A connection silent this long is given up: a stalled server must not hold a transfer forever. */
const IDLE_TIMEOUT_MS = 5 * 60_000;
const MAX_REDIRECTS = 10;
/** How much of an error response's body is kept for the local log (never in the message). */
const ERROR_BODY_CHARS = 300;
/** Headers that describe the body, which this module sets from the file itself (Go's client ignores them too). */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding']);
/** Dropped when a redirect leaves the host, as Go's client does, so credentials stay with their server. */
const SENSITIVE_HEADERS = new Set(['authorization', 'cookie', 'www-authenticate', 'proxy-authorization']);

export async function httpUpload(file: string, s: HttpSettings, c: TransferControl): Promise<{ location: string }> {
  const what = `upload to ${displayUrl(s.url)}`;
  throwIfCancelled(c.signal, what);
  const size = await uploadSize(file);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-binary' };
  for (const [name, value] of Object.entries(s.headers)) {
    if (BODY_HEADERS.has(name.toLowerCase())) continue;
    setHeader(headers, name, value);
  }
  headers['Content-Length'] = String(size);
  const res = await send(s, c, what, s.method, s.url, headers, async (req) => {
    const counter = new ByteCounter(size, c.onProgress);
    await pipeline(fs.createReadStream(file), counter, req);
  });
  if (!isSuccess(res.statusCode)) {
    throw new TransferError(`upload failed - code: ${res.statusCode}, status: ${statusText(res)}`, { detail: await bodyStart(res) });
  }
  res.resume();
  return { location: displayUrl(s.url) };
}

/** Sends the GET (following redirects) and hands back the response body for `downloadInto`. */
export async function httpDownloadBody(s: HttpSettings, c: TransferControl): Promise<DownloadBody> {
  let url = s.url;
  let headers: Record<string, string> = { ...s.headers };
  for (let hop = 0; ; hop++) {
    const what = `download from ${displayUrl(url)}`;
    const res = await send(s, c, what, 'GET', url, headers, async (req) => void req.end());
    const location = res.headers.location;
    if (isRedirect(res.statusCode) && location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new TransferError(`download failed: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new TransferError(`download failed: redirect to unsupported scheme ${next.protocol}`);
      if (next.host !== url.host) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !SENSITIVE_HEADERS.has(k.toLowerCase())));
      url = next;
      continue;
    }
    if (!isSuccess(res.statusCode)) {
      throw new TransferError(`download failed - code: ${res.statusCode}, status: ${statusText(res)}`, { detail: await bodyStart(res) });
    }
    const length = res.headers['content-length'];
    const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    return { body: res, total };
  }
}

/**
 * One request: `write` sends the body; resolves with the response once its head arrived. Every
 * failure ends as a TransferError naming the URL (without its query) and the network's reason.
 */
function send(
  s: HttpSettings, c: TransferControl, what: string, method: string, url: URL, headers: Record<string, string>,
  write: (req: http.ClientRequest) => Promise<void>,
): Promise<http.IncomingMessage> {
  throwIfCancelled(c.signal, what);
  if (!c.allowPrivateAddresses) {
    try {
      checkLiteralHost(url);
    } catch (err) {
      return Promise.reject(new TransferError(`${what} failed: ${describeError(err)}`, { cause: err }));
    }
  }
  const extraCa = [s.ca, c.ca].filter((x): x is string => x !== undefined);
  const options: https.RequestOptions = {
    method,
    headers,
    // One connection per transfer: nothing is kept alive after it (Node 20's global agent would).
    agent: false,
    ...(c.allowPrivateAddresses ? {} : { lookup: publicOnlyLookup }),
    ...(extraCa.length > 0 ? { ca: [...tls.rootCertificates, ...extraCa] } : {}),
    ...(c.signal ? { signal: c.signal } : {}),
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      req.destroy();
      if (settled) return;
      settled = true;
      if (c.signal?.aborted) reject(new TransferCancelledError(`${what} cancelled`, { cause: err }));
      else if (err instanceof TransferError) reject(err);
      else reject(new TransferError(`${what} failed: ${describeError(err)}`, { cause: err }));
    };
    let req: http.ClientRequest;
    try {
      req = (url.protocol === 'https:' ? https : http).request(url, options);
    } catch (err) {
      // Node validates header values synchronously.
      reject(new TransferError(`${what} failed: ${describeError(err)}`, { cause: err }));
      return;
    }
    let response: http.IncomingMessage | undefined;
    // The socket's idle timer also runs while the caller reads the body: the stall then fails that read.
    req.setTimeout(IDLE_TIMEOUT_MS, () => {
      const err = new TransferError(`${what} failed: no data for ${IDLE_TIMEOUT_MS / 1000} s`);
      response?.destroy(err);
      fail(err);
    });
    req.on('error', fail);
    req.on('response', (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      response = res;
      // The body is read by the caller; errors in it surface there.
      resolve(res);
    });
    // A server may answer (say 413 or 401) before the body is sent; the response then wins.
    write(req).catch((err: unknown) => setImmediate(() => fail(err)));
  });
}

function setHeader(headers: Record<string, string>, name: string, value: string): void {
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
  headers[name] = value;
}

function isSuccess(code: number | undefined): boolean {
  return code !== undefined && code >= 200 && code < 300;
}

function isRedirect(code: number | undefined): boolean {
  return code === 301 || code === 302 || code === 303 || code === 307 || code === 308;
}

/**
 * Go's `resp.Status`, which Kanto's messages quote: "500 Internal Server Error". The reason phrase
 * is the standard one for the code, not the server's: the server's own text is its words too.
 */
function statusText(res: http.IncomingMessage): string {
  return `${res.statusCode} ${http.STATUS_CODES[res.statusCode ?? 0] ?? ''}`.trim();
}

/** The start of an error response's body, on one line; the rest is discarded. */
async function bodyStart(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= ERROR_BODY_CHARS * 4) break;
    }
  } catch {
    // What arrived is enough to explain the failure.
  } finally {
    res.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text;
}
