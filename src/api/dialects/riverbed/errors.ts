/**
 * Errors as Riverbed's REST services show them: `{"error_id": CODE, "error_text": message}` with
 * the status (Riverbed's documentation defines no error body; this is the convention of Riverbed's REST APIs).
 * Every CoreErrorCode has a status and a code here (a Record: a new code breaks this build until
 * mapped); Fastify's own client errors keep their 4xx; anything else is a logged 500.
 */
import type { Static } from 'typebox';
import type { CoreErrorCode } from '../../../core/index.js';
import { type ErrorVocabulary, type ErrorWord, errorHandlerFor, notFoundHandlerFor, routeNamed } from '../../errors.js';
import { ErrorBody } from './schemas.js';

type RiverbedError = Static<typeof ErrorBody>;

export const CORE_ERROR_REPLY: Record<CoreErrorCode, { status: number; id: string }> = {
  invalid: { status: 400, id: 'INVALID_REQUEST' },
  unauthorized: { status: 401, id: 'AUTH_REQUIRED' },
  forbidden: { status: 403, id: 'AUTH_FORBIDDEN' },
  not_found: { status: 404, id: 'RESOURCE_NOT_FOUND' },
  conflict: { status: 409, id: 'CONFLICT' },
  quota_exceeded: { status: 409, id: 'QUOTA_EXCEEDED' },
  too_many_attempts: { status: 429, id: 'TOO_MANY_ATTEMPTS' },
  unavailable: { status: 503, id: 'SERVICE_UNAVAILABLE' },
  internal: { status: 500, id: 'INTERNAL_ERROR' },
};

/** Codes for the client errors Fastify raises itself (wrong media type, body too large, …). */
const HTTP_ERROR_ID: Record<number, string> = {
  400: 'INVALID_REQUEST', 403: 'AUTH_FORBIDDEN', 404: 'RESOURCE_NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 406: 'NOT_ACCEPTABLE', 408: 'REQUEST_TIMEOUT',
  411: 'LENGTH_REQUIRED', 413: 'REQUEST_TOO_LARGE', 414: 'URI_TOO_LONG', 415: 'UNSUPPORTED_MEDIA_TYPE', 431: 'HEADERS_TOO_LARGE',
};

export type RiverbedErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;
const AUTH: readonly RiverbedErrorStatus[] = [401, 403, 429, 500];
/** Statuses of routes whose request may carry a body (a parser may refuse it). */
export const BODY_ERRORS: readonly RiverbedErrorStatus[] = [400, 413, 415];

/** A route's responses: its successes, the error statuses it may give, and those of authentication. */
export function riverbedReplies<T extends object>(ok: T, errors: readonly RiverbedErrorStatus[]): T & Record<number, unknown> {
  const out = { ...ok } as Record<number, unknown>;
  for (const code of [...AUTH, ...errors]) out[code] = ErrorBody;
  return out as T & Record<number, unknown>;
}

const RIVERBED_WORDS: ErrorVocabulary<RiverbedError> = {
  core: Object.fromEntries(Object.entries(CORE_ERROR_REPLY).map(([k, r]) => [k, { status: r.status, word: r.id }])) as Record<CoreErrorCode, ErrorWord>,
  client: (status) => ({ status, word: HTTP_ERROR_ID[status] ?? 'INVALID_REQUEST' }),
  internal: { status: 500, word: 'INTERNAL_ERROR', message: 'internal error' },
  body: (id, text) => ({ error_id: id, error_text: text }),
  noRoute: (request) => `no resource ${routeNamed(request)}`,
};

export const riverbedErrorHandler = errorHandlerFor(RIVERBED_WORDS);
export const riverbedNotFound = notFoundHandlerFor(RIVERBED_WORDS);
