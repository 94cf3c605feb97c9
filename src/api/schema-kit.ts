/**
 * Small TypeBox helpers shared by every route schema: nullable fields, string enums, references
 * to shared (`$id`) schemas, and the error replies a route declares.
 */
import { type Static, type TSchema, type TUnsafe, Type } from 'typebox';

/** A string enum as `{type: 'string', enum}`: fast to serialize and plain in OpenAPI (TypeBox's Enum has no type). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** `T | null`, as a type list for primitives (serializers handle it without trying branches), else anyOf. */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const type: unknown = (schema as { type?: unknown }).type;
  if (typeof type === 'string') return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
  return Type.Unsafe<Static<T> | null>({ anyOf: [schema, { type: 'null' }] });
}

/** A reference to a shared schema (added once with `addSchema`), keeping its static type. */
export function Ref<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  const id: unknown = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('Ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` });
}

export const DateTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });

/** Copies only the keys the client sent, so that "absent" stays absent (partial updates depend on it). */
export function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined) out[k] = o[k];
  return out;
}

type JsonSchema = { [k: string]: unknown };
const isSchema = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A copy of `schema` in which every object with fixed `properties` that does not say otherwise
 * refuses other properties (`additionalProperties: false`), at every depth: array items, nested
 * objects, the branches of anyOf/oneOf. Free-form maps (`patternProperties`, as `Type.Record`
 * makes them, or an explicit `additionalProperties`) stay as they are, and so do `$ref`s, which
 * name a shared schema that decides for itself. `allOf` branches are left open: each would refuse
 * the others' properties.
 */
export function closeObjects<T>(schema: T): T {
  if (!isSchema(schema) || schema['$ref'] !== undefined) return schema;
  const out: JsonSchema = { ...schema };
  const props = out['properties'];
  if (isSchema(props)) {
    out['properties'] = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, closeObjects(v)]));
    if (!('additionalProperties' in out) && !('patternProperties' in out)) out['additionalProperties'] = false;
  }
  const items = out['items'];
  if (isSchema(items)) out['items'] = closeObjects(items);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = out[key];
    if (Array.isArray(branches)) out[key] = branches.map((b: unknown) => closeObjects(b));
  }
  return out as T;
}
