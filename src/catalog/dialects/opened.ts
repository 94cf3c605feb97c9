import type { Kysely } from 'kysely';
import type { DdlFlavour } from '../migrations/index.js';
import type { Database } from '../schema.js';

/** What differs between databases, as flags the stores read (never the dialect's name). */
export interface CatalogCapabilities {
  /** `SELECT … FOR UPDATE SKIP LOCKED` exists, so several processes can claim jobs from one queue. */
  skipLocked: boolean;
  /** Other server processes may share this catalog (so orphaned jobs are judged by heartbeat, not by "we just started"). */
  sharedByProcesses: boolean;
}

export interface OpenedDialect {
  db: Kysely<Database>;
  ddl: DdlFlavour;
  capabilities: CatalogCapabilities;
  /** The location with any password removed, for logs. */
  describe: string;
}
