/**
 * The route table of a built app, for tests generated from it: every method and path Fastify
 * registered (from `printRoutes`, so undocumented dialect routes are included), joined with the
 * OpenAPI operation that documents it, when there is one (query parameters and the JSON body's
 * fields).
 */
import type { FastifyInstance } from 'fastify';

export interface FieldSpec {
  name: string;
  /** JSON Schema type(s) of the field, as documented ('string', 'integer', 'array', …). */
  types: string[];
  /** For arrays: the item type. */
  items?: string[];
  /** The body's schema lists it as required (query parameters: always false). */
  required?: boolean;
}

export interface RouteSpec {
  method: string;
  /** Fastify's path, with `:param` segments. */
  path: string;
  params: string[];
  query: FieldSpec[];
  body: FieldSpec[];
  documented: boolean;
}

/** Parses `printRoutes({ commonPrefix: false })`: a tree whose lines are `├── /seg (GET, HEAD)`. */
export function registeredRoutes(app: FastifyInstance): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const full = stack.join('');
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) out.push({ method, path: full });
  }
  return out;
}

type Schema = { $ref?: string; type?: string | string[]; required?: string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; enum?: unknown[] };
type OpenApi = { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: Schema }[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }>>; components?: { schemas?: Record<string, Schema> } };

function resolve(doc: OpenApi, s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s;
  return doc.components?.schemas?.[s.$ref.split('/').at(-1)!];
}

function typesOf(doc: OpenApi, s: Schema | undefined): string[] {
  const r = resolve(doc, s);
  if (!r) return [];
  if (r.anyOf) return [...new Set(r.anyOf.flatMap((x) => typesOf(doc, x)))];
  if (Array.isArray(r.type)) return r.type;
  return r.type ? [r.type] : r.enum ? ['string'] : [];
}

/** Every registered route (HEAD and the docs' static files left out) with what the document says about it. */
export function routeTable(app: FastifyInstance, doc: OpenApi): RouteSpec[] {
  const specs: RouteSpec[] = [];
  for (const { method, path } of registeredRoutes(app)) {
    if (method === 'HEAD' || path.startsWith('/docs')) continue;
    const templ = path.replace(/:([a-z_]+)(\|:[a-z_]+)*/gi, '{$1}');
    // Syncano's paths are served with and without their trailing slash and documented without it.
    const op = (doc.paths[templ] ?? doc.paths[`${templ}/`] ?? doc.paths[templ.replace(/(.)\/$/, '$1')])?.[method.toLowerCase()];
    const params = [...path.matchAll(/:([a-z_]+)/gi)].map((m) => m[1]!).slice(0, path.includes('|') && !path.endsWith('/status') ? 1 : undefined);
    const query = (op?.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, types: typesOf(doc, p.schema) }));
    const bodySchema = resolve(doc, op?.requestBody?.content?.['application/json']?.schema);
    const body = Object.entries(bodySchema?.properties ?? {}).map(([name, s]) => {
      const r = resolve(doc, s);
      return { name, types: typesOf(doc, s), ...(r?.items ? { items: typesOf(doc, r.items) } : {}), required: bodySchema?.required?.includes(name) ?? false };
    });
    specs.push({ method, path: path.includes('|') ? path.replace(/\|:[a-z_]+/gi, '') : path, params: path.endsWith('/status') ? params.slice(-1) : params, query, body, documented: Boolean(op) });
  }
  return specs;
}
