import { type CompiledQuery, type Kysely, Migrator } from 'kysely';
import { AuditStore } from './audit.js';
import { BackupStore } from './backups.js';
import type { CatalogCapabilities, OpenedDialect } from './dialects/opened.js';
import { openPostgres } from './dialects/postgres.js';
import { openSqlite } from './dialects/sqlite.js';
import { InstanceStore } from './instances.js';
import { JobStore } from './jobs.js';
import { migrationProvider } from './migrations/index.js';
import { NotificationStore } from './notifications.js';
import { RepositoryStore } from './repositories.js';
import type { Database } from './schema.js';
import { ScheduleStore } from './schedules.js';
import { SettingsStore } from './settings.js';
import { UserStore } from './users.js';

/** The metadata database: one schema on SQLite (embedded) or PostgreSQL (scale-out), reached through stores. */
export class Catalog {
  readonly users: UserStore;
  readonly repositories: RepositoryStore;
  readonly instances: InstanceStore;
  readonly backups: BackupStore;
  readonly jobs: JobStore;
  readonly schedules: ScheduleStore;
  readonly audit: AuditStore;
  readonly settings: SettingsStore;
  readonly notifications: NotificationStore;
  readonly capabilities: CatalogCapabilities;
  readonly describe: string;
  private readonly db: Kysely<Database>;

  private constructor(private readonly opened: OpenedDialect) {
    this.db = opened.db;
    this.capabilities = opened.capabilities;
    this.describe = opened.describe;
    this.users = new UserStore(this.db);
    this.repositories = new RepositoryStore(this.db);
    this.instances = new InstanceStore(this.db, this.capabilities.skipLocked);
    this.backups = new BackupStore(this.db);
    this.jobs = new JobStore(this.db, this.capabilities);
    this.schedules = new ScheduleStore(this.db);
    this.audit = new AuditStore(this.db);
    this.settings = new SettingsStore(this.db);
    this.notifications = new NotificationStore(this.db, this.capabilities);
  }

  /**
   * Opens `sqlite:PATH` (or a bare path, or `:memory:`) or `postgres://…`/`postgresql://…`, and
   * migrates it to the latest schema (Kysely's migrator serialises concurrent processes with its lock table).
   */
  static async open(location: string): Promise<Catalog> {
    const opened = /^postgres(ql)?:\/\//.test(location)
      ? openPostgres(location)
      : openSqlite(location.startsWith('sqlite:') ? location.slice('sqlite:'.length) : location);
    const catalog = new Catalog(opened);
    try {
      await catalog.migrate();
    } catch (err) {
      await catalog.close();
      throw err;
    }
    return catalog;
  }

  private async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.opened.ddl), migrationTableName: 'coffer_migrations', migrationLockTableName: 'coffer_migrations_lock' });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error');
      throw new Error(`catalog migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
  }

  /** Runs `fn` in one transaction; stores accept the transaction handle where they take part. */
  transaction<T>(fn: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  /**
   * The sum of the change counters of the backups and instances tables: equal numbers mean no
   * change was committed in between, whoever made it. Read BEFORE reading what is cached under it.
   */
  async backupChanges(): Promise<number> {
    // Compiled once: this runs before every read of the backup list or of a backup.
    this.changesQuery ??= this.db.selectFrom('catalog_changes').select((e) => e.fn.sum<number | string>('n').as('n'))
      .where('name', 'in', ['backups', 'instances']).compile();
    const r = (await this.db.executeQuery(this.changesQuery)).rows[0];
    if (!r) throw new Error('catalog_changes has no rows: the catalog was not migrated');
    return Number(r.n);
  }

  private changesQuery: CompiledQuery<{ n: number | string }> | undefined;

  /** For statements a store does not offer yet; core must not use this. */
  get kysely(): Kysely<Database> {
    return this.db;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
