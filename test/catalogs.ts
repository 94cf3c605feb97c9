/**
 * The catalogs every server test runs on: SQLite always, and the machine's PostgreSQL
 * (127.0.0.1:5432, trust auth). Each PostgreSQL use gets a fresh database, dropped afterwards.
 * Without PostgreSQL, CI fails loudly; outside CI (CI unset) the PostgreSQL cases are skipped
 * with the reason printed.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import pg from 'pg';

export const PG_ADMIN_URL = process.env['COFFER_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface CatalogUnderTest {
  name: 'sqlite' | 'postgres';
  /** A fresh catalog location; `dir` holds the SQLite file. */
  create(dir: string): Promise<string>;
  /** Drops what `create` made (PostgreSQL databases). */
  cleanup(): Promise<void>;
}

let pgAvailable: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers, else why not. */
function probePostgres(): Promise<string | undefined> {
  pgAvailable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('select 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${PG_ADMIN_URL} is not reachable: ${(err as Error).message}`;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgAvailable;
}

function sqlite(): CatalogUnderTest {
  return { name: 'sqlite', create: async (dir) => `sqlite:${path.join(dir, `coffer-${randomBytes(4).toString('hex')}.db`)}`, cleanup: async () => {} };
}

function postgres(): CatalogUnderTest {
  const made: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client(PG_ADMIN_URL);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    async create() {
      const db = `coffer_test_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${db}`));
      made.push(db);
      const u = new URL(PG_ADMIN_URL);
      u.pathname = `/${db}`;
      return u.toString();
    },
    async cleanup() {
      for (const db of made.splice(0)) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).catch(() => {});
    },
  };
}

/**
 * The catalogs to run a suite on. Call at the top of a test file (top-level await) and loop
 * `describe.each` over the result.
 */
export async function catalogsUnderTest(): Promise<CatalogUnderTest[]> {
  const why = await probePostgres();
  if (why === undefined) return [sqlite(), postgres()];
  if (process.env['CI']) throw new Error(`${why} (CI is set, so the PostgreSQL half of the suite cannot be skipped)`);
  process.stderr.write(`skipping the PostgreSQL variant of this suite: ${why}\n`);
  return [sqlite()];
}
