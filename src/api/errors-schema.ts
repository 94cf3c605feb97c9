/** The error body of every failed request, and the per-route declaration of the error statuses. */
import { type Static, Type } from 'typebox';

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'A stable code: bad_request, unauthorized, forbidden, not_found, conflict, quota_exceeded, too_many_attempts, payload_too_large, unsupported_media_type, unavailable, internal' }),
  message: Type.String({ description: 'What went wrong, naming the field at fault' }),
  field: Type.Optional(Type.String({ description: 'The request field at fault, when one is' })),
}, { $id: 'Error', additionalProperties: false });

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

/** What each error status means, for the OpenAPI document (`x-response-description` is @fastify/swagger's). */
export const ERROR_MEANING: Record<ErrorStatus, string> = {
  400: 'The request is not valid; the message names the field',
  401: 'No valid credentials (WWW-Authenticate: Basic realm="coffer")',
  403: 'Valid credentials whose role may not do this',
  404: 'Not found (also: an id that is not one)',
  409: 'Conflict: e.g. a restore of that instance is in progress, a quota is reached, the thing is in use',
  413: 'The body is larger than the server accepts',
  415: 'The body is not JSON',
  429: 'Too many failed sign-ins from this address, or too many open event streams (Retry-After says how long to wait)',
  500: 'Internal error',
  503: 'A service the server needs (catalog, repository storage) does not answer',
};

const errorRef = (status: ErrorStatus) => Type.Unsafe<Static<typeof ErrorBody>>({ $ref: 'Error#', 'x-response-description': ERROR_MEANING[status] });
type ErrorRefSchema = ReturnType<typeof errorRef>;

/** Every authenticated route can answer these. */
type AuthStatus = 401 | 403 | 429 | 500;
const AUTH: readonly AuthStatus[] = [401, 403, 429, 500];

/** A route's responses: its successes plus the error statuses it may give (always those of authentication). */
export function replies<T extends object, E extends ErrorStatus = never>(ok: T, ...errors: E[]): T & Record<E | AuthStatus, ErrorRefSchema> {
  const out = { ...ok } as Record<number, unknown>;
  for (const code of [...AUTH, ...errors]) out[code] = errorRef(code);
  return out as T & Record<E | AuthStatus, ErrorRefSchema>;
}

/** The same for public routes (no authentication statuses). */
export function publicReplies<T extends object, E extends ErrorStatus = never>(ok: T, ...errors: E[]): T & Record<E, ErrorRefSchema> {
  const out = { ...ok } as Record<number, unknown>;
  for (const code of errors) out[code] = errorRef(code);
  return out as T & Record<E, ErrorRefSchema>;
}

/** Statuses of routes that take a JSON body. */
export const BODY_ERRORS = [400, 413, 415] as const;
