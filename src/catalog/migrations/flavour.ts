import type { ColumnDefinitionBuilder } from 'kysely';

/** What a migration needs to know about the database it runs on: only DDL differs between SQLite and PostgreSQL. */
export interface DdlFlavour {
  /** Column type of an auto-incremented primary key. */
  autoIdType: 'integer' | 'serial';
  autoId(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
}

export const SQLITE_DDL: DdlFlavour = { autoIdType: 'integer', autoId: (c) => c.primaryKey().autoIncrement() };
export const POSTGRES_DDL: DdlFlavour = { autoIdType: 'serial', autoId: (c) => c.primaryKey() };
