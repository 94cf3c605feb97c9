/**
 * Errors as Syncano (Django REST framework) shows them: validation errors as
 * `{"field": ["message"]}` with 400, everything else as `{"detail": "message"}` with its status.
 * Every CoreErrorCode has a status here (a Record: a new code breaks this build until mapped).
 * A body that is not JSON is `{"detail": "JSON parse error - …"}`, as DRF's parser said it.
 */
import type { FastifySchemaValidationError } from 'fastify';
import { type Static, Type } from 'typebox';
import { CoreError, type CoreErrorCode } from '../../../core/index.js';
import { type ErrorVocabulary, type ErrorWord, errorHandlerFor, notFoundHandlerFor } from '../../errors.js';

export const CORE_ERROR_STATUS: Record<CoreErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  // Syncano's TooManyBackups ("Maximum number of backups per account reached") was a 400.
  quota_exceeded: 400,
  too_many_attempts: 429,
  unavailable: 503,
  internal: 500,
};

export const DetailBody = Type.Object({ detail: Type.String() }, { additionalProperties: false, description: 'What went wrong' });
export const FieldErrors = Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Field name → what is wrong with it' });
type Detail = Static<typeof DetailBody>;
type Fields = Static<typeof FieldErrors>;

export type SyncanoErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 503;
const AUTH: readonly SyncanoErrorStatus[] = [401, 403, 429, 500];

const bodyFor = (status: SyncanoErrorStatus) => (status === 400 ? Type.Union([DetailBody, FieldErrors], { description: 'Field errors, or a detail' }) : DetailBody);

/** A route's responses: its successes, the error statuses it may give, and those of authentication (unless public). */
export function syncanoReplies<T extends object>(ok: T, errors: readonly SyncanoErrorStatus[], o: { public?: boolean } = {}): T & Record<number, unknown> {
  const out = { ...ok } as Record<number, unknown>;
  for (const code of [...(o.public ? [] : AUTH), ...errors]) out[code] = bodyFor(code);
  return out as T & Record<number, unknown>;
}

/** `query_args.klass` → `query_args`; `paths[2]` → `paths`: DRF names the serializer field only. */
function topField(field: string): string {
  return field.split(/[.[]/, 1)[0] || field;
}

function fieldMessage(err: CoreError, field: string): string {
  const prefix = `${field}: `;
  const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const top = topField(field);
  return field === top ? text : `${field.slice(top.length).replace(/^\./, '')} ${text}`;
}

/** DRF's sentences for the schema checks our route schemas make. */
function validationMessage(e: FastifySchemaValidationError): { field: string; message: string } {
  const p = e.params as Record<string, unknown>;
  const segments = e.instancePath.split('/').slice(1);
  if (e.keyword === 'required') return { field: String(p['missingProperty']), message: 'This field is required.' };
  const field = segments[0] ?? 'non_field_errors';
  const inner = segments.slice(1).join('.');
  const at = inner ? `${inner}: ` : '';
  switch (e.keyword) {
    case 'maxLength': return { field, message: `${at}Ensure this field has no more than ${String(p['limit'])} characters.` };
    case 'type': return { field, message: `${at}Must be ${Array.isArray(p['type']) ? p['type'].join(' or ') : String(p['type'])}.` };
    case 'pattern': case 'minimum': return { field, message: `${at}Not a valid value.` };
    default: return { field, message: `${at}${e.message ?? 'Invalid value.'}` };
  }
}

/** DRF's own shapes: field errors (from core or from the body's schema) and its JSON parser's sentence. */
function drfBody(err: unknown, status: number): Detail | Fields | undefined {
  if (err instanceof CoreError) {
    if (err.code === 'invalid' && err.field !== undefined) return { [topField(err.field)]: [fieldMessage(err, err.field)] };
    // The JSON parser's words (shared input plugin) in DRF's form.
    if (err.code === 'invalid' && err.message.startsWith('body is not valid JSON: ')) return { detail: `JSON parse error - ${err.message.slice('body is not valid JSON: '.length)}` };
    return undefined;
  }
  const validation = (err as { validation?: FastifySchemaValidationError[]; validationContext?: string }).validation;
  if (status === 400 && Array.isArray(validation) && validation.length > 0 && (err as { validationContext?: string }).validationContext === 'body') {
    const { field, message } = validationMessage(validation[0]!);
    return { [field]: [message] };
  }
  return undefined;
}

const SYNCANO_WORDS: ErrorVocabulary<Detail | Fields> = {
  // DRF has no error codes in its bodies: the word is unused, the status is all.
  core: Object.fromEntries(Object.entries(CORE_ERROR_STATUS).map(([k, status]) => [k, { status, word: k }])) as Record<CoreErrorCode, ErrorWord>,
  client: (status) => ({ status, word: String(status) }),
  internal: { status: 500, word: 'internal', message: 'Internal server error.' },
  body: (_word, detail) => ({ detail }),
  special: drfBody,
  noRoute: () => 'Not found.',
};

export const syncanoErrorHandler = errorHandlerFor(SYNCANO_WORDS);
export const syncanoNotFound = notFoundHandlerFor(SYNCANO_WORDS);
