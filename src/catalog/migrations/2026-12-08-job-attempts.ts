/**
 * Attempts per job: a backup whose worker died, or that found its repository locked for too long,
 * is queued again a bounded number of times. `attempts` counts the claims; `attempt_errors` is a
 * JSON list of why each earlier attempt ended without a result.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('jobs').addColumn('attempt_errors', 'text', (c) => c.notNull().defaultTo('[]')).execute();
}
