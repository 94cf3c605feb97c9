import type { ColumnDefinitionBuilder } from 'kysely';

/** What a migration needs to know about the database it runs on: only DDL differs between SQLite and PostgreSQL. */
export interface DdlFlavour {
  /** Which database: for the few statements (triggers, functions) that have no common spelling. */
  name: 'sqlite' | 'postgres';
  /** Column type of an auto-incremented primary key. */
  autoIdType: 'integer' | 'serial';
  autoId(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
}

export const SQLITE_DDL: DdlFlavour = { name: 'sqlite', autoIdType: 'integer', autoId: (c) => c.primaryKey().autoIncrement() };
export const POSTGRES_DDL: DdlFlavour = { name: 'postgres', autoIdType: 'serial', autoId: (c) => c.primaryKey() };
