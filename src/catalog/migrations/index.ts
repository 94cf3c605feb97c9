/** Every migration, listed statically and in order (names sort by date). */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { DdlFlavour } from './flavour.js';
import * as initial from './2026-11-23-initial.js';
import * as changeCounters from './2026-11-24-change-counters.js';
import * as repositoryOptions from './2026-12-06-repository-options.js';
import * as retentionIncludesUploaded from './2026-12-07-retention-includes-uploaded.js';
import * as jobAttempts from './2026-12-08-job-attempts.js';
import * as notifications from './2026-12-09-notifications.js';

type Step = { up(db: Kysely<any>, f: DdlFlavour): Promise<void> }; // eslint-disable-line @typescript-eslint/no-explicit-any

const STEPS: Record<string, Step> = {
  '2026-11-23-initial': initial,
  '2026-11-24-change-counters': changeCounters,
  '2026-12-06-repository-options': repositoryOptions,
  '2026-12-07-retention-includes-uploaded': retentionIncludesUploaded,
  '2026-12-08-job-attempts': jobAttempts,
  '2026-12-09-notifications': notifications,
};

export function migrationProvider(flavour: DdlFlavour): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(STEPS)) out[name] = { up: (db) => step.up(db, flavour) };
      return out;
    },
  };
}

export { type DdlFlavour, SQLITE_DDL, POSTGRES_DDL } from './flavour.js';
