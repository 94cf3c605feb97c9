/**
 * Response validation (for development and tests): every JSON reply is checked against the schema
 * its route declares for that status, before it is serialized; a mismatch becomes a 500 naming the
 * problem, so drift between views and schemas fails a test instead of silently losing a field.
 * Error replies are checked against the shared Error schema when the route declares nothing else.
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
    const schema = responses[status] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses[`${Math.floor(status / 100)}xx`] ?? responses['default']
      ?? (status >= 400 ? ErrorBody : undefined);
    const where = `${request.method} ${request.routeOptions.url ?? request.url}`;
    if (!schema) throw new ResponseDriftError(`response of ${where}: status ${status} is not declared in the route's schema`);
    const validate = validatorFor(schema);
    if (!validate(payload)) {
      const problems = (validate.errors ?? []).slice(0, 5).map((e) => describeError(e, 'response'));
      throw new ResponseDriftError(`response ${status} of ${where} does not match its schema: ${problems.join('; ')}`);
    }
    return payload;
  });
}, { name: 'coffer-response-validation', fastify: '5.x' });
