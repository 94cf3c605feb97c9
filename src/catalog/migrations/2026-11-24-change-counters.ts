/**
 * Change counters: `catalog_changes` holds, per watched table, a number that every committed
 * change of that table raises, maintained by triggers so that it holds for every writer (other
 * processes sharing the catalog included). Readers that cache what they read (the backup list)
 * compare one number instead of re-reading a page. The counter commits with the change itself, so
 * a reader that sees the new number sees the new rows.
 */
import { type Kysely, sql } from 'kysely';
import type { DdlFlavour } from './flavour.js';

export const WATCHED_TABLES = ['backups', 'instances'] as const;

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>, f: DdlFlavour): Promise<void> {
  await db.schema.createTable('catalog_changes')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('n', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  for (const t of WATCHED_TABLES) await db.insertInto('catalog_changes').values({ name: t, n: 0 }).execute();

  if (f.name === 'postgres') {
    await sql`CREATE FUNCTION coffer_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN UPDATE catalog_changes SET n = n + 1 WHERE name = TG_TABLE_NAME; RETURN NULL; END $$`.execute(db);
    // Once per statement, not per row: a statement touching many rows holds the counter's row lock once.
    for (const t of WATCHED_TABLES) {
      await sql`CREATE TRIGGER ${sql.raw(`${t}_count_change`)} AFTER INSERT OR UPDATE OR DELETE ON ${sql.table(t)}
        FOR EACH STATEMENT EXECUTE FUNCTION coffer_count_change()`.execute(db);
    }
    return;
  }
  // SQLite has row triggers only; its single writer makes the extra update cheap.
  for (const t of WATCHED_TABLES) {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      await sql`CREATE TRIGGER ${sql.raw(`${t}_count_${op.toLowerCase()}`)} AFTER ${sql.raw(op)} ON ${sql.table(t)}
        BEGIN UPDATE catalog_changes SET n = n + 1 WHERE name = ${sql.lit(t)}; END`.execute(db);
    }
  }
}
