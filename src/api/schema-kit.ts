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
