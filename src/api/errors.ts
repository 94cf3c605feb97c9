/**
 * Errors as the native API shows them: `{"error": CODE, "message": text}` with a status. Every
 * CoreErrorCode has its status here (a Record, so a new code breaks this build until it is
 * mapped); Fastify's own client errors keep their 4xx; anything else is a logged 500 that tells
 * the client nothing more than "internal error".
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError, type CoreErrorCode } from '../core/index.js';

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
  400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 408: 'request_timeout',
  411: 'length_required', 413: 'payload_too_large', 414: 'uri_too_long', 415: 'unsupported_media_type', 431: 'headers_too_large',
};

export const AUTH_CHALLENGE = 'Basic realm="coffer"';

/** A response that does not match its schema (response validation): a bug of ours, named for the tests that catch it. */
export class ResponseDriftError extends Error {
  override readonly name = 'ResponseDriftError';
}

function isFastifyClientError(err: unknown): err is FastifyError & { statusCode: number } {
  if (!(err instanceof Error)) return false;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export async function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): Promise<{ error: string; message: string; field?: string }> {
  if (err instanceof CoreError) {
    const m = CORE_ERROR_REPLY[err.code];
    if (m.status === 401) reply.header('WWW-Authenticate', AUTH_CHALLENGE);
    if (m.status === 429 && err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
    if (m.status >= 500) request.log.error({ err }, 'core error');
    reply.code(m.status);
    return { error: m.error, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) };
  }
  if (err instanceof ResponseDriftError) {
    request.log.error({ err }, 'response does not match its schema');
    reply.code(500);
    return { error: 'internal', message: err.message };
  }
  if (isFastifyClientError(err)) {
    reply.code(err.statusCode);
    // Fastify's messages may quote the whole offending URL or parameter.
    const message = err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message;
    return { error: HTTP_ERROR_WORD[err.statusCode] ?? 'bad_request', message };
  }
  request.log.error({ err }, 'unexpected error');
  reply.code(500);
  return { error: 'internal', message: 'internal error' };
}

/** Errors Fastify meets before routing (a malformed or overlong URL): the same body as every other error. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void errorHandler(err, request, reply).then((body) => reply.send(body));
}

export async function notFoundHandler(request: FastifyRequest, reply: FastifyReply): Promise<{ error: string; message: string }> {
  const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
  reply.code(404);
  return { error: 'not_found', message: `no route ${request.method} ${url}` };
}
