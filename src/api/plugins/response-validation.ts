/**
 * Response validation (for development and tests): every JSON reply is checked against the schema
 * its route declares for that status, before it is serialized; a mismatch becomes a 500 naming the
 * problem, so drift between views and schemas fails a test instead of silently losing a field.
 * An error status the route does not declare (a generic check: a NUL in a parameter, a body that
 * is not JSON) must still be in one of the route's own error shapes — a dialect's, not the native
 * one — and only a route that declares no error at all is held to the shared Error schema.
 */
import type { ValidateFunction } from 'ajv';
import fp from 'fastify-plugin';
import type { TSchema } from 'typebox';
import { ErrorBody } from '../errors-schema.js';
import { ResponseDriftError } from '../errors.js';
import { createAjv, describeError } from '../validation.js';

export const responseValidationPlugin = fp<{ shared: readonly TSchema[] }>(async (app, opts) => {
  const ajv = createAjv(opts.shared, { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true });
  const compiled = new WeakMap<object, ValidateFunction>();
  const validatorFor = (schema: object): ValidateFunction => {
    let v = compiled.get(schema);
    if (!v) {
      v = ajv.compile(schema);
      compiled.set(schema, v);
    }
    return v;
  };

  app.addHook('preSerialization', async (request, reply, payload: unknown) => {
    const responses = request.routeOptions.schema?.response as Record<string, object> | undefined;
    // Routes without declared responses (the docs, the OpenAPI document, 404s) are not ours to check.
    if (!responses) return payload;
    const status = reply.statusCode;
    const declared = responses[status] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses[`${Math.floor(status / 100)}xx`] ?? responses['default'];
    const schemas = declared ? [declared] : status >= 400 ? errorSchemasOf(responses) : [];
    const where = `${request.method} ${request.routeOptions.url ?? request.url}`;
    if (schemas.length === 0) throw new ResponseDriftError(`response of ${where}: status ${status} is not declared in the route's schema`);
    let problems: string[] = [];
    for (const schema of schemas) {
      const validate = validatorFor(schema);
      if (validate(payload)) return payload;
      if (problems.length === 0) problems = (validate.errors ?? []).slice(0, 5).map((e) => describeError(e, 'response'));
    }
    throw new ResponseDriftError(`response ${status} of ${where} does not match its schema: ${problems.join('; ')}`);
  });
}, { name: 'coffer-response-validation', fastify: '5.x' });

/** The error bodies a route declares (any status from 400 on), or the shared Error schema when it declares none. */
function errorSchemasOf(responses: Record<string, object>): object[] {
  const own = Object.entries(responses).filter(([code]) => /^[45]/.test(code)).map(([, schema]) => schema);
  return own.length > 0 ? own : [ErrorBody];
}
