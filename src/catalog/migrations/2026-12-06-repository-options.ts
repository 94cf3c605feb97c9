/**
 * Backend options per repository (restic's `-o key=value`, with the credentials of object storage):
 * one JSON object sealed under the server secret, like the password; null when there are none.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('options_sealed', 'text').execute();
}
