/**
 * Errors as the Cloud Connector's configuration API shows them (docs/dialects.md): `{"code": WORD,
 * "message": text}`. Every CoreErrorCode has its status and word here (a Record: a new code breaks
 * this build until it is mapped). Whatever is wrong with the request itself (a bad file, a missing
 * or wrong password, a body that is not multipart or JSON, a file over the limit) is the Cloud Connector's documentation's
 * one error word: 400 INVALID_REQUEST.
 */
import { Type } from 'typebox';
import type { CoreErrorCode } from '../../../core/index.js';
import { type ErrorVocabulary, type ErrorWord, errorHandlerFor, notFoundHandlerFor, routeNamed } from '../../errors.js';

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

const CODE_WORDS: ErrorVocabulary<{ code: string; message: string }> = {
  core: Object.fromEntries(Object.entries(CORE_ERROR_CODE).map(([k, r]) => [k, { status: r.status, word: r.code }])) as Record<CoreErrorCode, ErrorWord>,
  // A body that is too large, not multipart, not JSON, over a part limit: the request is invalid.
  client: (status) => (status === 404 ? { status, word: 'NOT_FOUND' } : status === 405 ? { status, word: 'METHOD_NOT_ALLOWED' }
    : status === 403 ? { status, word: 'FORBIDDEN' } : { status: 400, word: 'INVALID_REQUEST' }),
  internal: { status: 500, word: 'INTERNAL_ERROR', message: 'internal error' },
  body: (code, message) => ({ code, message }),
  noRoute: (request) => `no route ${routeNamed(request)}`,
};

export const configurationErrorHandler = errorHandlerFor(CODE_WORDS);
export const configurationNotFound = notFoundHandlerFor(CODE_WORDS);
