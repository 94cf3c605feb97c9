/** A unique constraint refused a row: the catalog's way of saying "someone else got there first". */
export class UniqueViolation extends Error {
  constructor(readonly constraint: string | undefined, cause: unknown) {
    super(`unique constraint violated${constraint ? `: ${constraint}` : ''}`, { cause });
    this.name = 'UniqueViolation';
  }
}

/** Recognises a unique violation from either driver and turns it into {@link UniqueViolation}. */
export function asUniqueViolation(err: unknown): UniqueViolation | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e.code === '23505') return new UniqueViolation(typeof e.constraint === 'string' ? e.constraint : undefined, err);
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const m = /UNIQUE constraint failed: (.*)$/.exec(String(e.message));
    return new UniqueViolation(m?.[1], err);
  }
  return undefined;
}

export async function rethrowUnique<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw asUniqueViolation(err) ?? err;
  }
}
