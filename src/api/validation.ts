/**
 * Request validation from the route schemas (STYLE F2), with two ajv instances: request bodies are
 * checked strictly (a string is not coerced into a number or a boolean: "wrong types are 400"),
 * while path and query parameters, which arrive as text, are coerced. A third, for response
 * validation, neither coerces nor fills defaults. Validation errors become messages that name the
 * field: `body.type must be one of full, incremental, differential`.
 */
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import type { FastifySchemaValidationError, RouteOptions } from 'fastify';
import type { TSchema } from 'typebox';
import { closeObjects } from './schema-kit.js';

/** RFC 3339 date-time, as core writes them (`Date.toISOString()`). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

export function createAjv(shared: readonly TSchema[], options: Options): Ajv {
  const ajv = new Ajv({ strict: true, allowUnionTypes: true, ...options });
  ajv.addFormat('date-time', DATE_TIME);
  // Annotations for the OpenAPI document beside response schemas (headers, descriptions); not validation keywords.
  ajv.addKeyword({ keyword: 'headers' });
  ajv.addKeyword({ keyword: 'x-response-description' });
  for (const s of shared) ajv.addSchema(s);
  return ajv;
}

/** The request parts Fastify validates (its SchemaErrorDataVar, which it does not export). */
type SchemaErrorDataVar = 'body' | 'headers' | 'params' | 'querystring';
export type HttpPart = SchemaErrorDataVar | string | undefined;

/** The JSON pointer of the first number that is not finite (NaN, ±Infinity) in a coerced value, if any. */
export function nonFiniteAt(value: unknown, at = ''): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : at;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = nonFiniteAt(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Ajv's coercion turns the text `1e309` or `Infinity` into Infinity, which it counts as an
 * integer and for which it skips minimum and maximum: a parameter must be a finite number.
 */
function finiteOnly(validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    const ok = validate(data);
    checked.errors = validate.errors;
    if (!ok) return false;
    const at = nonFiniteAt(data);
    if (at === undefined) return true;
    checked.errors = [{ keyword: 'finite', instancePath: at, schemaPath: '#', params: {}, message: 'must be a finite number' }];
    return false;
  }) as ValidateFunction;
  return checked;
}

/**
 * Ajv's verbose errors also carry the value at fault, which may be a password: an error keeps only
 * its parent schema (for the names of the known fields), so that nothing sent lingers in it.
 */
function withoutData(validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    const ok = validate(data);
    checked.errors = validate.errors?.map(({ data: _data, schema: _schema, ...rest }) => rest);
    return ok;
  }) as ValidateFunction;
  return checked;
}

/** Fastify's validator compiler: strict bodies, coerced parameters. */
export function validatorCompiler(shared: readonly TSchema[]) {
  // verbose: an error carries its schema, so that an unknown field's message can list the known ones.
  const strict = createAjv(shared, { coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, verbose: true });
  const coercing = createAjv(shared, { coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  return ({ schema, httpPart }: { schema: unknown; httpPart?: HttpPart }) => (httpPart === 'body' ? withoutData(strict.compile(schema as object)) : finiteOnly(coercing.compile(schema as object)));
}

const PART_LABEL: Record<SchemaErrorDataVar, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** `/parts/0/name` → `.parts[0].name` */
function jsonPointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer.split('/').slice(1).map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`)).join('');
}

/** One ajv error as a sentence that names the field, e.g. `body.cron is required`. */
export function describeError(e: FastifySchemaValidationError | ErrorObject, root: string): string {
  const at = root + jsonPointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${at}${jsonPointerToPath(`/${String(p['missingProperty'])}`)} is required`;
    case 'additionalProperties': {
      const known = Object.keys((e as { parentSchema?: { properties?: object } }).parentSchema?.properties ?? {});
      return `${at} has an unknown field ${JSON.stringify(String(p['additionalProperty']))}${known.length ? ` (known fields: ${known.join(', ')})` : ''}`;
    }
    case 'enum':
      return `${at} must be one of ${(p['allowedValues'] as unknown[]).map((v) => (v === null ? 'null' : String(v))).join(', ')}`;
    case 'type': {
      const t = p['type'];
      return `${at} must be ${Array.isArray(t) ? t.join(' or ') : String(t)}`;
    }
    default:
      return `${at} ${e.message ?? 'is not valid'}`;
  }
}

/**
 * An onRoute hook for a surface whose JSON bodies are closed: a field the route does not know is a
 * 400 that names it (`body has an unknown field "typ"`), where ignoring it would do something the
 * client did not ask for (a misspelt `type` makes a backup of the default type). Every object with
 * fixed properties is closed, nested ones too; free-form maps stay open (see `closeObjects`).
 * Routes that take another media type (a multipart form, an upload) keep their schema.
 */
export function closeJsonBodies(route: RouteOptions): void {
  const schema = route.schema;
  if (schema?.body === undefined) return;
  const consumes = (schema as { consumes?: unknown }).consumes;
  if (Array.isArray(consumes) && !consumes.includes('application/json')) return;
  route.schema = { ...schema, body: closeObjects(schema.body) };
}

/** Fastify's schema error formatter: the first error, named by its place in the request. */
export function formatValidationErrors(errors: FastifySchemaValidationError[], part: SchemaErrorDataVar): Error {
  const first = errors[0];
  return new Error(first ? describeError(first, PART_LABEL[part] ?? part) : `${part} is not valid`);
}
