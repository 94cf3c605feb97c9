import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { POSTGRES_DDL } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { OpenedDialect } from './opened.js';

const INT8_OID = 20;

/** PostgreSQL through a `pg` pool. BIGINT columns are parsed to numbers (byte counts stay far below 2^53). */
export function openPostgres(url: string, poolSize = 10): OpenedDialect {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    ddl: POSTGRES_DDL,
    capabilities: { skipLocked: true, sharedByProcesses: true },
    describe: redact(url),
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
