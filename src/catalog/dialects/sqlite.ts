import * as fs from 'node:fs';
import * as path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { SQLITE_DDL } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { OpenedDialect } from './opened.js';

/** SQLite through better-sqlite3: WAL, a busy timeout, foreign keys on. `:memory:` for tests. */
export function openSqlite(file: string): OpenedDialect {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power loss may drop the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    ddl: SQLITE_DDL,
    capabilities: { skipLocked: false, sharedByProcesses: false },
    describe: `sqlite:${file}`,
  };
}
