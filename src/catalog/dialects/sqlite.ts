import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { SQLITE_DDL } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { OpenedDialect } from './opened.js';

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query anew; preparing costs more than running the small queries an API
 * request makes (a tenth of the server's CPU under load). The catalog's queries are few and
 * repeat, so prepared statements are kept by their SQL text (parameters are bound per run).
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last, so the first key is the one to evict.
        cache.delete(sql);
      } else {
        stmt = withRowBuilder(sqlite.prepare(sql));
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

type SqliteStatement = ReturnType<SqliteDatabase['prepare']>;
type Row = Record<string, unknown>;

/**
 * better-sqlite3 builds each result row as an object key by key, which V8 turns into a slow
 * dictionary object once a row has a few dozen columns: a page of 100 backups (28 columns) took
 * 0.8 ms, two thirds of a `GET /list`. Rows are read as arrays instead and made into objects by a
 * function generated once per statement from its column names (an object literal of fixed shape):
 * the same page takes 0.35 ms.
 */
function withRowBuilder(stmt: BetterSqlite3.Statement): SqliteStatement {
  if (!stmt.reader) return stmt as unknown as SqliteStatement;
  const names = stmt.columns().map((c) => c.name);
  // Later columns of the same name win, as in better-sqlite3's own objects.
  const fields = new Map<string, number>();
  names.forEach((n, i) => fields.set(n, i));
  const body = `return {${[...fields].map(([n, i]) => `${JSON.stringify(n)}: r[${i}]`).join(', ')}};`;
  const build = new Function('r', body) as (r: unknown[]) => Row;
  const raw = stmt.raw(true);
  return {
    reader: true,
    all: (params: ReadonlyArray<unknown>) => (raw.all(params) as unknown[][]).map(build),
    run: (params: ReadonlyArray<unknown>) => raw.run(params),
    *iterate(params: ReadonlyArray<unknown>) {
      for (const r of raw.iterate(params) as IterableIterator<unknown[]>) yield build(r);
    },
  } as unknown as SqliteStatement;
}

/** The database and the files SQLite keeps beside it (they hold the same data). */
const SIDE_FILES = ['', '-wal', '-shm', '-journal'];

/**
 * The catalog holds password hashes, key hashes and the audit log: its files are 0600 and
 * directories made for it 0700. Files from before are corrected; new ones are created under a
 * umask that lets nobody else read them (SQLite gives -wal and -shm the database's own mode).
 */
function openPrivate(file: string): BetterSqlite3.Database {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  for (const suffix of SIDE_FILES) {
    try {
      fs.chmodSync(file + suffix, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // Worker threads may not change the umask; the mode of the database file still carries over.
  if (!isMainThread) return new BetterSqlite3(file);
  const umask = process.umask(0o077);
  try {
    return new BetterSqlite3(file);
  } finally {
    process.umask(umask);
  }
}

/** SQLite through better-sqlite3: WAL, a busy timeout, foreign keys on. `:memory:` for tests. */
export function openSqlite(file: string): OpenedDialect {
  const sqlite = file === ':memory:' ? new BetterSqlite3(file) : openPrivate(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power loss may drop the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    ddl: SQLITE_DDL,
    capabilities: { skipLocked: false, sharedByProcesses: false },
    describe: `sqlite:${file}`,
  };
}
