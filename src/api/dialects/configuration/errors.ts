/**
 * Errors as the Cloud Connector's configuration API shows them (seed 001): `{"code": WORD,
 * "message": text}`. Every CoreErrorCode has its status and word here (a Record: a new code breaks
 * this build until it is mapped). Whatever is wrong with the request itself (a bad file, a missing
 * or wrong password, a body that is not multipart or JSON, a file over the limit) is the seed's
 * one error word: 400 INVALID_REQUEST.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CoreError, type CoreErrorCode } from '../../../core/index.js';
import { AUTH_CHALLENGE, ResponseDriftError } from '../../errors.js';

export const CODE_BODY = Type.Object({
  code: Type.String({ description: 'INVALID_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE or INTERNAL_ERROR' }),
  message: Type.String({ description: 'What went wrong' }),
}, { additionalProperties: false });

interface CodeReply { status: number; code: string }

export const CORE_ERROR_CODE: Record<CoreErrorCode, CodeReply> = {
  invalid: { status: 400, code: 'INVALID_REQUEST' },
  unauthorized: { status: 401, code: 'UNAUTHORIZED' },
  forbidden: { status: 403, code: 'FORBIDDEN' },
  not_found: { status: 404, code: 'NOT_FOUND' },
  conflict: { status: 409, code: 'CONFLICT' },
  quota_exceeded: { status: 409, code: 'CONFLICT' },
  too_many_attempts: { status: 429, code: 'TOO_MANY_REQUESTS' },
  unavailable: { status: 503, code: 'SERVICE_UNAVAILABLE' },
  internal: { status: 500, code: 'INTERNAL_ERROR' },
};

type ErrorStatus = 400 | 401 | 403 | 429 | 500 | 503;
const ALWAYS: readonly ErrorStatus[] = [400, 401, 403, 429, 500];

/** A route's responses: its successes plus the error statuses it may answer, each with the `{code, message}` body. */
export function codeReplies<T extends object, E extends ErrorStatus = never>(ok: T, ...errors: E[]): T & Record<E | 400 | 401 | 403 | 429 | 500, typeof CODE_BODY> {
  const out = { ...ok } as Record<number, unknown>;
  for (const status of [...ALWAYS, ...errors]) out[status] = CODE_BODY;
  return out as T & Record<E | 400 | 401 | 403 | 429 | 500, typeof CODE_BODY>;
}

export async function configurationErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): Promise<{ code: string; message: string }> {
  if (err instanceof CoreError) {
    const m = CORE_ERROR_CODE[err.code];
    if (m.status === 401) reply.header('WWW-Authenticate', AUTH_CHALLENGE);
    if (m.status === 429 && err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
    if (m.status >= 500) request.log.error({ err }, 'core error');
    reply.code(m.status);
    return { code: m.code, message: err.message };
  }
  if (err instanceof ResponseDriftError) {
    request.log.error({ err }, 'response does not match its schema');
    reply.code(500);
    return { code: 'INTERNAL_ERROR', message: err.message };
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = String((err as Error).message ?? 'bad request');
    if (status === 404 || status === 405) {
      reply.code(status);
      return { code: status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED', message };
    }
    // A body that is too large, not multipart, not JSON, over a part limit: the request is invalid.
    reply.code(400);
    return { code: 'INVALID_REQUEST', message: message.length > 300 ? `${message.slice(0, 300)}…` : message };
  }
  request.log.error({ err }, 'unexpected error');
  reply.code(500);
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}

export async function configurationNotFound(request: FastifyRequest, reply: FastifyReply): Promise<{ code: string; message: string }> {
  const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
  reply.code(404);
  return { code: 'NOT_FOUND', message: `no route ${request.method} ${url}` };
}
