/**
 * Whether a schedule's retention counts uploaded backups too (1) or leaves them alone (0, the
 * default): an uploaded file must not push the backups Coffer made out of a keep policy.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('schedules').addColumn('retention_includes_uploaded', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
