/**
 * What @fastify/swagger cannot say from the route schemas alone, added in one place so that
 * routes stay plain: the OpenAPI document must describe exactly what the server sends and takes.
 *
 * - `documentRoute` (per route, before the operation is generated): a route that parses raw bodies
 *   (`consumes` without a `body` schema: uploads) documents a binary body; a route whose API key may
 *   come as `?api_key=` (`config.apiKeyInQuery`) lists that security scheme too.
 * - `shapeDocument` (once, on the finished document): error responses are JSON whatever the
 *   success body is (`produces` applies to every status in @fastify/swagger); every response has a
 *   real description; downloads declare Content-Length and Content-Disposition, 429 and 503 declare
 *   Retry-After; a JSON body whose fields are all optional is not required (no body means `{}`,
 *   see src/api/plugins/input.ts).
 */
import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { ERROR_MEANING } from '../errors-schema.js';

/** Any of these signs a request in (OpenAPI: a list of alternatives). */
export const GLOBAL_SECURITY: Record<string, string[]>[] = [{ apiKey: [] }, { bearer: [] }, { basic: [] }];
export const QUERY_KEY_SCHEME = 'apiKeyQuery';

type Json = Record<string, unknown>;

/** The body of a route that reads raw bytes: documented for each media type it accepts. */
const BINARY_BODY = { type: 'string', format: 'binary', description: 'The file, as raw bytes' };

export const documentRoute: SwaggerTransform = ({ schema, url, route }) => {
  if (!schema || (schema as Json)['hide']) return { schema, url };
  const out: Json = { ...(schema as Json) };
  if (out['consumes'] && !out['body']) out['body'] = BINARY_BODY;
  const security = out['security'] as unknown[] | undefined;
  // A public route (security: []) stays public.
  if (route.config?.apiKeyInQuery && (security === undefined || security.length > 0)) out['security'] = [...(security ?? GLOBAL_SECURITY), { [QUERY_KEY_SCHEME]: [] }];
  return { schema: out as FastifySchema, url };
};

const SUCCESS_MEANING: Record<string, string> = {
  200: 'Success',
  201: 'Created',
  202: 'Accepted: the job runs in the background',
  204: 'Done; no body',
};

const RETRY_AFTER = { description: 'Seconds to wait before trying again, when the server knows', schema: { type: 'integer', minimum: 0 } };
const DOWNLOAD_HEADERS = {
  'Content-Length': { description: 'Exact size of the file in bytes', schema: { type: 'integer', minimum: 0 } },
  'Content-Disposition': { description: '`attachment; filename="…"`: the name to save the file as', schema: { type: 'string' } },
};
const BINARY_MEDIA = new Set(['application/zip', 'application/octet-stream']);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Response { description?: string; content?: Record<string, Json>; headers?: Record<string, Json> }
interface Operation { requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> }; responses?: Record<string, Response> }

function shapeResponse(status: string, r: Response): void {
  if (!r.description || r.description === 'Default Response') r.description = SUCCESS_MEANING[status] ?? ERROR_MEANING[Number(status) as keyof typeof ERROR_MEANING] ?? `HTTP ${status}`;
  const ok = status.startsWith('2');
  if (!ok && r.content && !r.content['application/json']) {
    // Errors are always JSON: one entry, with the schema the route declared for them.
    const first = Object.values(r.content)[0]!;
    r.content = { 'application/json': first };
  }
  if (status === '429' || status === '503') r.headers = { 'Retry-After': RETRY_AFTER, ...r.headers };
  if (ok && r.content && Object.keys(r.content).some((m) => BINARY_MEDIA.has(m))) r.headers = { ...DOWNLOAD_HEADERS, ...r.headers };
}

function resolve(doc: Json, schema: Json | undefined): Json | undefined {
  const ref = schema?.['$ref'];
  if (typeof ref !== 'string') return schema;
  return ((doc['components'] as Json | undefined)?.['schemas'] as Record<string, Json> | undefined)?.[ref.split('/').at(-1)!];
}

/** A JSON body with no required field may be left out (it means `{}`); one with required fields may not. */
function shapeRequestBody(doc: Json, op: Operation): void {
  const json = op.requestBody?.content?.['application/json'];
  if (!json) return;
  const schema = resolve(doc, json.schema);
  const required = schema?.['required'];
  if (schema?.['type'] === 'object' && !(Array.isArray(required) && required.length > 0)) op.requestBody!.required = false;
}

export const shapeDocument: SwaggerTransformObject = (document) => {
  const doc = ('openapiObject' in document ? document.openapiObject : document.swaggerObject) as Json;
  for (const item of Object.values((doc['paths'] ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const [status, r] of Object.entries(op.responses ?? {})) shapeResponse(status, r);
      shapeRequestBody(doc, op);
    }
  }
  return doc;
};
