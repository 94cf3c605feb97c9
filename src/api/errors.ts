/**
 * The one error handler of every HTTP surface. What happens is the same everywhere: each
 * CoreErrorCode has its status; a 401 carries the Basic challenge (API clients only: see
 * `challengeFits`); a 429 or 503 that knows when to come back carries Retry-After; Fastify's own
 * client errors keep their 4xx; 5xx are logged (503, busy or unavailable, as a warning); anything unexpected is a 500 that tells the client
 * nothing more than "internal error". What differs is the words: each surface (the native API and
 * each dialect) gives its `ErrorVocabulary`, the body shape and the words of its product.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError, type CoreErrorCode } from '../core/index.js';

/** A status and the surface's word for it. */
export interface ErrorWord {
  status: number;
  word: string;
}

export interface ErrorVocabulary<B> {
  /** Every CoreErrorCode's status and word (a Record: a new code breaks the build until mapped). */
  core: Record<CoreErrorCode, ErrorWord>;
  /** A client error Fastify raised itself (bad JSON, wrong media type, body too large…) in this surface's words. */
  client(status: number): ErrorWord;
  /** The 500 of an unexpected error. */
  internal: ErrorWord & { message: string };
  /** The body of an error. `err` is the CoreError, when it is one (for a field at fault). */
  body(word: string, message: string, err?: CoreError): B;
  /** A surface's own rendering of some errors (Syncano's field errors); undefined for the common one. */
  special?(err: unknown, status: number): B | undefined;
  /** The message of an unknown route. */
  noRoute(request: FastifyRequest): string;
}

export const AUTH_CHALLENGE = 'Basic realm="coffer"';

/** A response that does not match its schema (response validation): a bug of ours, named for the tests that catch it. */
export class ResponseDriftError extends Error {
  override readonly name = 'ResponseDriftError';
}

const short = (message: string, max = 300) => (message.length > max ? `${message.slice(0, max)}…` : message);

function isClientError(err: unknown): err is FastifyError & { statusCode: number } {
  if (!(err instanceof Error)) return false;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * A browser (it sends Origin or Sec-Fetch-* on every fetch and navigation) that sees the Basic
 * challenge prompts for a password and then sends it with every later request to this server,
 * including those a hostile page makes it send (CSRF). API clients send neither header.
 */
export function challengeFits(request: FastifyRequest): boolean {
  const h = request.headers;
  return h.origin === undefined && h['sec-fetch-mode'] === undefined && h['sec-fetch-site'] === undefined && h['sec-fetch-dest'] === undefined;
}

/**
 * The media types a route takes a body in: what its schema declares (`consumes`: uploads and
 * multipart forms must say it, for the OpenAPI document too), else those of JSON and HTML forms
 * that its scope has a parser for. Multipart is left out there: a route reads it only through
 * `request.parts()`, and such a route declares it.
 */
export function acceptedMediaTypes(request: FastifyRequest): string[] {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes;
  if (Array.isArray(consumes) && consumes.length > 0) return consumes.map(String);
  return ['application/json', 'application/x-www-form-urlencoded'].filter((t) => request.server.hasContentTypeParser(t));
}

const orList = (items: string[]) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)!}` : items[0] ?? '');

/** A 415's message: what was sent and what to send instead. */
export function unsupportedMediaType(request: FastifyRequest): string {
  const sent = request.headers['content-type']?.split(';', 1)[0]!.trim();
  const accepted = acceptedMediaTypes(request);
  const what = sent ? `media type ${JSON.stringify(short(sent, 100))} is not accepted here` : 'the body has no Content-Type';
  return accepted.length > 0 ? `${what}: send ${orList(accepted)}` : `${what}: send no body`;
}

export function retryAfterHeader(seconds: number): string {
  return String(Math.max(1, Math.ceil(seconds)));
}

export function errorHandlerFor<B>(v: ErrorVocabulary<B>) {
  return async function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): Promise<B> {
    const status = err instanceof CoreError ? v.core[err.code].status : isClientError(err) ? err.statusCode : 500;
    if (err instanceof CoreError) {
      if (status === 401 && challengeFits(request)) reply.header('WWW-Authenticate', AUTH_CHALLENGE);
      if ((status === 429 || status === 503) && err.retryAfterSeconds !== undefined) reply.header('Retry-After', retryAfterHeader(err.retryAfterSeconds));
      // Busy or unavailable (a repository lock held, a catalog down) is expected and passes: a warning.
      if (status === 503) request.log.warn({ code: err.code, error: err.message }, `unavailable: ${err.message}`);
      else if (status >= 500) request.log.error({ err }, 'core error');
    }
    const own = v.special?.(err, status);
    if (own !== undefined) {
      reply.code(status);
      return own;
    }
    if (err instanceof CoreError) {
      reply.code(status);
      return v.body(v.core[err.code].word, err.message, err);
    }
    if (err instanceof ResponseDriftError) {
      request.log.error({ err }, 'response does not match its schema');
      reply.code(500);
      return v.body(v.internal.word, err.message);
    }
    if (isClientError(err)) {
      const m = v.client(err.statusCode);
      reply.code(m.status);
      if (err.statusCode === 415) return v.body(m.word, unsupportedMediaType(request));
      // Fastify's messages may quote the whole offending URL or parameter.
      return v.body(m.word, short(err.message));
    }
    request.log.error({ err }, 'unexpected error');
    reply.code(500);
    return v.body(v.internal.word, v.internal.message);
  };
}

export function notFoundHandlerFor<B>(v: ErrorVocabulary<B>) {
  return async function notFound(request: FastifyRequest, reply: FastifyReply): Promise<B> {
    reply.code(404);
    return v.body(v.core.not_found.word, v.noRoute(request));
  };
}

/** `GET /x…`, the URL cut short: an unknown route's words. */
export function routeNamed(request: FastifyRequest): string {
  return `${request.method} ${short(request.url, 200)}`;
}

// The native API's words.

export interface ErrorReply {
  status: number;
  error: string;
}

export const CORE_ERROR_REPLY: Record<CoreErrorCode, ErrorReply> = {
  invalid: { status: 400, error: 'bad_request' },
  unauthorized: { status: 401, error: 'unauthorized' },
  forbidden: { status: 403, error: 'forbidden' },
  not_found: { status: 404, error: 'not_found' },
  conflict: { status: 409, error: 'conflict' },
  quota_exceeded: { status: 409, error: 'quota_exceeded' },
  too_many_attempts: { status: 429, error: 'too_many_attempts' },
  unavailable: { status: 503, error: 'unavailable' },
  internal: { status: 500, error: 'internal' },
};

/** Words for the client errors Fastify raises itself (bad JSON, wrong media type, body too large…). */
const HTTP_ERROR_WORD: Record<number, string> = {
  400: 'bad_request', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 408: 'request_timeout',
  411: 'length_required', 413: 'payload_too_large', 414: 'uri_too_long', 415: 'unsupported_media_type', 431: 'headers_too_large',
};

type NativeBody = { error: string; message: string; field?: string };

export const NATIVE_WORDS: ErrorVocabulary<NativeBody> = {
  core: Object.fromEntries(Object.entries(CORE_ERROR_REPLY).map(([code, r]) => [code, { status: r.status, word: r.error }])) as Record<CoreErrorCode, ErrorWord>,
  client: (status) => ({ status, word: HTTP_ERROR_WORD[status] ?? 'bad_request' }),
  internal: { status: 500, word: 'internal', message: 'internal error' },
  body: (error, message, err) => ({ error, message, ...(err?.field !== undefined ? { field: err.field } : {}) }),
  noRoute: (request) => `no route ${routeNamed(request)}`,
};

export const errorHandler = errorHandlerFor(NATIVE_WORDS);
export const notFoundHandler = notFoundHandlerFor(NATIVE_WORDS);

/** Errors Fastify meets before routing (a malformed or overlong URL): the same body as every other error. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void errorHandler(err, request, reply).then((body) => reply.send(body));
}
