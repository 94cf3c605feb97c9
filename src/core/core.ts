/**
 * Core: every business rule of the server, composed once. Adapters (HTTP, MQTT, CLI) hold a Core
 * and call its services with the Actor a request comes from; nothing here knows HTTP.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Catalog, type Job } from '../catalog/index.js';
import { VERSION } from '../repo/index.js';
import { ArchiveLinks } from './archive-links.js';
import { AuditLog } from './audit.js';
import { AuthService, checkBootstrapCredentials, generatedPassword } from './auth.js';
import { BackupFileService } from './backup-files.js';
import { BackupService, type Identity, type Limits } from './backups.js';
import { ConfigurationService } from './configuration/index.js';
import { BUILTIN_INSTANCE, InstanceService } from './instances.js';
import { backupExecutor } from './jobs/backup-executor.js';
import { downloadRestoreExecutor } from './jobs/download-restore.js';
import { JobEvents } from './jobs/events.js';
import { removeOrphanedStaging, restoreExecutor } from './jobs/restore-executor.js';
import { retentionExecutor } from './jobs/retention-executor.js';
import { JobRunner } from './jobs/runner.js';
import { JobService } from './jobs.js';
import { logJobs } from './job-log.js';
import { type LogLine, type Logger, SILENT_LOGGER, logLineOf } from './logger.js';
import { KantoService } from './kanto.js';
import { DEFAULT_RETRY, Dispatcher, NotificationService, Notifier, type RetryOptions, Sender } from './notifications/index.js';
import { OverdueCheck } from './overdue.js';
import { CoreError } from './errors.js';
import { renderMetrics } from './metrics.js';
import { SYSTEM_ACTOR } from './permissions.js';
import { RepositoryService } from './repositories.js';
import { Scheduler } from './scheduler.js';
import { RestoreStatusService } from './restore-status.js';
import { ScheduleService, retentionPolicy } from './schedules.js';
import { ServerSecret } from './secrets.js';

export interface CoreOptions {
  dataDir: string;
  /** `sqlite:PATH` or `postgres://…`; default `sqlite:<dataDir>/coffer.db`. */
  catalog?: string;
  /** Default `<dataDir>/secret.key`. Processes sharing a catalog must share the secret. */
  secretFile?: string;
  /** Location of the default repository; default `<dataDir>/repo`. */
  defaultRepository?: string;
  /** `all` (embedded), `api` (no jobs or schedules here) or `worker` (jobs and schedules, no HTTP). */
  role?: 'all' | 'api' | 'worker';
  /** Jobs run at once by this process. */
  jobConcurrency?: number;
  /** Engine worker threads per job (default: one per core). */
  engineWorkers?: number;
  limits?: Partial<Limits>;
  identity?: Partial<Identity>;
  adminPassword?: string;
  adminApiKey?: string;
  /** Largest backup file accepted by an upload, in bytes; default 64 GiB. */
  maxUploadBytes?: number;
  /** Largest total one uploaded file may unpack to, in bytes; default 20 × maxUploadBytes. */
  maxUnpackedBytes?: number;
  /** An upload whose body pauses this long is abandoned; default 60 s. */
  uploadIdleMs?: number;
  /** Uploads this process takes at once; default 4. */
  maxConcurrentUploads?: number;
  /** Where core writes its log (jobs, schedules, faults); default: nowhere. */
  logger?: Logger;
  /** Retries of notification deliveries; default DEFAULT_RETRY (tests make the delay short). */
  notificationRetry?: Partial<RetryOptions>;
}

/** Default largest upload: 64 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;

export interface BootstrapCredentials {
  password: string;
  apiKey: string;
  /** True when Coffer made them up (so they must be shown once). */
  generated: { password: boolean; apiKey: boolean };
}

export class Core {
  readonly events = new JobEvents();
  readonly audit: AuditLog;
  readonly auth: AuthService;
  readonly repositories: RepositoryService;
  readonly instances: InstanceService;
  readonly backups: BackupService;
  readonly jobs: JobService;
  readonly schedules: ScheduleService;
  readonly identity: Identity;
  /** Signed, expiring download links of backup files (Syncano's `archive`). */
  readonly archiveLinks: ArchiveLinks;
  /** Backup files: download and upload of one backup as a ZIP. */
  readonly backupFiles: BackupFileService;
  /** Coffer's own configuration: export/import sealed with a password, reset, its copy in backups of `device`. */
  readonly configuration: ConfigurationService;
  /** The latest restore of an instance (Riverbed's restore_status). */
  readonly restoreStatus: RestoreStatusService;
  /** Eclipse Kanto's operations as Coffer's backups and restore jobs. */
  readonly kanto: KantoService;
  /** Notification channels and their deliveries. */
  readonly notifications: NotificationService;
  /** Finds schedules whose run did not succeed in time (run by the scheduler; callable with another "now" in tests). */
  readonly overdue: OverdueCheck;
  private readonly notifier: Notifier;
  private readonly sender: Sender;
  private dispatcher: Dispatcher | undefined;
  private runner: JobRunner | undefined;
  private scheduler: Scheduler | undefined;
  private restarting: Promise<void> = Promise.resolve();
  /** Set on the first start of an empty data directory. */
  bootstrap: BootstrapCredentials | undefined;

  private readonly secretFile: string;
  private readonly log: LogLine;
  private readonly jobLog: { stop(): Promise<void> };

  private constructor(readonly catalog: Catalog, readonly secret: ServerSecret, private readonly opts: CoreOptions, private readonly logger: Logger) {
    const log = logLineOf(logger);
    this.log = log;
    this.secretFile = secretFileOf(opts);
    this.jobLog = logJobs(this.events, catalog, logger.child({ component: 'jobs' }));
    this.audit = new AuditLog(catalog, (err) => log('audit log write failed', err));
    this.auth = new AuthService(catalog, this.audit);
    this.repositories = new RepositoryService(catalog, secret, this.audit);
    this.instances = new InstanceService(catalog, this.audit);
    this.identity = {
      hostname: opts.identity?.hostname ?? 'localhost', model: opts.identity?.model ?? 'coffer', serial: opts.identity?.serial ?? '',
      swVersion: opts.identity?.swVersion ?? VERSION,
    };
    const limits: Limits = {
      maxBackupsPerInstance: opts.limits?.maxBackupsPerInstance ?? 0, maxBackupsPerAccount: opts.limits?.maxBackupsPerAccount ?? 25,
      quotaIncludesAdmins: opts.limits?.quotaIncludesAdmins ?? false,
    };
    this.backups = new BackupService(catalog, this.repositories, () => this.runner, this.audit, this.identity, limits);
    this.jobs = new JobService(catalog, this.events, () => this.runner, this.audit);
    this.schedules = new ScheduleService(catalog, secret, this.audit);
    this.archiveLinks = new ArchiveLinks(secret, catalog);
    this.restoreStatus = new RestoreStatusService(catalog);
    this.kanto = new KantoService(catalog, this.backups, this.instances, this.audit, secret, () => this.runner);
    this.sender = new Sender(catalog, secret);
    const wake = () => this.dispatcher?.wake();
    this.notifier = new Notifier(catalog, this.identity.hostname, wake, logger.child({ component: 'notifications' }));
    // Job starts and ends seen in this process become notifications (queued; a process that runs jobs sends them).
    this.events.subscribe('*', (job) => this.notifier.observe(job));
    this.notifications = new NotificationService(catalog, secret, this.sender, this.audit, this.identity.hostname, wake);
    this.overdue = new OverdueCheck(catalog, (s, expectedAt, grace) => this.notifier.scheduleOverdue(s, expectedAt, grace), log);
    this.configuration = new ConfigurationService({
      catalog, secret, secretFile: this.secretFile, dataDir: opts.dataDir, audit: this.audit, cofferVersion: VERSION,
      admin: { password: opts.adminPassword, apiKey: opts.adminApiKey }, log, restartServices: () => this.restartServices(),
    });
    this.backupFiles = new BackupFileService(catalog, this.repositories, this.backups, this.audit, {
      workDir: path.join(opts.dataDir, 'uploads'), maxUploadBytes: opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
      ...(opts.maxUnpackedBytes !== undefined ? { maxUnpackedBytes: opts.maxUnpackedBytes } : {}),
      ...(opts.uploadIdleMs !== undefined ? { idleMs: opts.uploadIdleMs } : {}),
      ...(opts.maxConcurrentUploads !== undefined ? { maxConcurrent: opts.maxConcurrentUploads } : {}),
      ...(opts.engineWorkers !== undefined ? { engineWorkers: opts.engineWorkers } : {}),
    });
  }

  static async start(opts: CoreOptions): Promise<Core> {
    const logger = opts.logger ?? SILENT_LOGGER;
    checkBootstrapCredentials({ password: opts.adminPassword, apiKey: opts.adminApiKey });
    makePrivateDir(opts.dataDir);
    const catalog = await Catalog.open(catalogOf(opts));
    try {
      const secret = ServerSecret.loadOrCreate(secretFileOf(opts));
      const core = new Core(catalog, secret, opts, logger);
      await core.firstStart();
      await core.backupFiles.sweepAbandonedUploads({ atStart: true }).catch((err: unknown) => core.log('could not clear abandoned uploads', err));
      const role = opts.role ?? 'all';
      if (role !== 'api') await core.startWorkers();
      return core;
    } catch (err) {
      await catalog.close();
      throw err;
    }
  }

  /**
   * The Core of an existing server's data, for administration beside (or instead of) a running
   * server: catalog and secret only. Nothing is created, swept or started (no first start, no job
   * runner, no scheduler), so a server running on the same data is not disturbed; `stop()` closes it.
   */
  static async openExisting(opts: CoreOptions): Promise<Core> {
    const secret = ServerSecret.load(secretFileOf(opts));
    const catalog = await Catalog.open(catalogOf(opts));
    try {
      if ((await catalog.users.count()) === 0) throw new CoreError('not_found', `the catalog ${catalog.describe} has no users: has \`coffer serve\` ever started on it?`);
      return new Core(catalog, secret, opts, opts.logger ?? SILENT_LOGGER);
    } catch (err) {
      await catalog.close();
      throw err;
    }
  }

  /** The default repository, the built-in instance and the admin user, made once. */
  private async firstStart(): Promise<void> {
    const repo = await this.repositories.ensureDefault(this.opts.defaultRepository ?? path.join(this.opts.dataDir, 'repo'));
    if (!(await this.catalog.instances.byName(BUILTIN_INSTANCE))) {
      await this.catalog.instances.create({ name: BUILTIN_INSTANCE, description: 'This server (Riverbed and Kanto act on it)', parts: [], repositoryId: repo.id }).catch(() => {});
    }
    if ((await this.catalog.users.count()) === 0) {
      const password = this.opts.adminPassword ?? generatedPassword();
      const apiKey = this.opts.adminApiKey ?? AuthService.newApiKey().key;
      await this.auth.bootstrapAdmin(password, apiKey);
      await this.audit.record(SYSTEM_ACTOR, 'user.bootstrap', 'user:admin');
      this.bootstrap = { password, apiKey, generated: { password: this.opts.adminPassword === undefined, apiKey: this.opts.adminApiKey === undefined } };
    }
  }

  private async startWorkers(): Promise<void> {
    await this.repositories.clearStaleLocks((name, err) => this.log(`repository ${name}: could not clear stale locks`, err));
    const w = this.opts.engineWorkers;
    this.runner = new JobRunner(this.catalog, this.events, {
      backup: backupExecutor(this.catalog, this.repositories, w, this.configuration, { cofferFiles: cofferFilesOf(this.opts) }),
      restore: restoreExecutor(this.catalog, this.repositories, w, this.configuration, downloadRestoreExecutor(this.catalog, this.secret)),
      retention: retentionExecutor(this.catalog, this.repositories, this.audit),
    }, {
      concurrency: this.opts.jobConcurrency ?? 2,
      log: this.log,
      onFinished: (job) => this.afterJob(job),
      onOrphan: async (job, reason) => {
        if (job.kind === 'backup' && job.backupId) await this.catalog.backups.update(job.backupId, { status: 'error', statusInfo: reason });
        // What the interrupted restore had staged holds restored data beside its destinations: removed.
        if (job.kind === 'restore') {
          const staged = Promise.all([removeOrphanedStaging(this.catalog, job, this.configuration), this.configuration.removeStaging(job.id)]);
          await staged.catch((err: unknown) => this.log(`job ${job.id}: could not remove its restore staging`, err));
        }
      },
    });
    await this.runner.start();
    this.dispatcher = new Dispatcher(this.catalog, this.sender, { ...DEFAULT_RETRY, ...this.opts.notificationRetry }, this.logger.child({ component: 'notifications' }));
    this.dispatcher.start();
    this.scheduler = new Scheduler(this.catalog, this.backups, this.audit, this.logger.child({ component: 'scheduler' }), undefined, this.overdue);
    this.scheduler.start();
  }

  /** After a scheduled backup succeeds, its schedule's retention runs (once at a time per instance). */
  private async afterJob(job: Job): Promise<void> {
    // A restore that put Coffer's configuration back: restart once the job has ended (not awaited: the runner waits for this job).
    if (this.configuration.takeRestartAfter(job.id)) void this.restartServices().catch((err: unknown) => this.log('restarting services after a configuration restore failed', err));
    if (job.kind !== 'backup' || job.state !== 'success' || job.scheduleId === null) return;
    const s = await this.catalog.schedules.get(job.scheduleId);
    const policy = s && retentionPolicy(s);
    if (!policy) return;
    try {
      await this.catalog.jobs.enqueue({ kind: 'retention', instanceId: job.instanceId, backupId: null, scheduleId: s.id, payload: { policy, includeUploaded: s.retentionIncludesUploaded }, createdBy: 'system' });
      this.runner?.wake();
    } catch {
      // A retention of this instance is already queued or running: it will see this backup too.
    }
  }

  /** For /healthz: one cheap catalog query; throws `unavailable` when the catalog does not answer. */
  async health(): Promise<void> {
    try {
      await this.catalog.users.count();
    } catch (err) {
      throw new CoreError('unavailable', `the catalog does not answer: ${(err as Error).message}`, undefined, { cause: err });
    }
  }

  async metrics(): Promise<string> {
    return renderMetrics(this.catalog, this.runner?.activeCount ?? 0);
  }

  /**
   * Restarts Coffer's services in this process after its configuration changed: scheduler and job
   * runner stop (running jobs are interrupted as at shutdown), the server secret is read again,
   * cached credentials are forgotten, and runner and scheduler start again where this role runs them.
   */
  async restartServices(): Promise<void> {
    const run = this.restarting.then(async () => {
      this.scheduler?.stop();
      this.scheduler = undefined;
      await this.runner?.stop('interrupted: Coffer restarted its services after a configuration change');
      this.runner = undefined;
      await this.dispatcher?.stop();
      this.dispatcher = undefined;
      this.secret.reload(this.secretFile);
      this.auth.forgetCachedCredentials();
      if ((this.opts.role ?? 'all') !== 'api') await this.startWorkers();
      this.log('services restarted after a configuration change');
    });
    this.restarting = run.catch(() => {});
    return run;
  }

  /** Graceful stop: no new jobs, running ones interrupted and recorded as such, catalog closed. */
  async stop(): Promise<void> {
    await this.restarting;
    this.scheduler?.stop();
    await this.runner?.stop();
    await this.dispatcher?.stop();
    // The ends of the jobs just interrupted are written before the catalog (which names their instances) closes.
    await this.jobLog.stop();
    await this.catalog.close();
  }
}

function catalogOf(opts: CoreOptions): string {
  return opts.catalog ?? `sqlite:${path.join(opts.dataDir, 'coffer.db')}`;
}

function secretFileOf(opts: CoreOptions): string {
  return opts.secretFile ?? path.join(opts.dataDir, 'secret.key');
}

/**
 * The data directory holds the server secret, the catalog (password hashes, the audit log) and
 * upload staging: only Coffer's user may enter it. Set on every start, so a directory made by
 * hand or by an older Coffer is corrected too.
 */
function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/**
 * Coffer's own files, which no part backs up unless it says so (include_coffer_data): the
 * secret, the SQLite catalog and the files beside it, upload staging, Kanto's files, the
 * configuration copy's state, the default repository. Each also under its real path, since a
 * part may reach the data directory through another name than the one Coffer was given.
 */
function cofferFilesOf(opts: CoreOptions): string[] {
  const catalog = catalogOf(opts);
  const file = catalog.startsWith('sqlite:') ? catalog.slice('sqlite:'.length) : catalog;
  const db = /^postgres(ql)?:\/\//.test(catalog) || file === ':memory:' ? undefined : path.resolve(file);
  const files = [
    secretFileOf(opts), ...(db ? ['', '-wal', '-shm', '-journal'].map((s) => db + s) : []),
    ...['uploads', 'kanto', 'state'].map((d) => path.join(opts.dataDir, d)), opts.defaultRepository ?? path.join(opts.dataDir, 'repo'),
  ].map((f) => path.resolve(f));
  const real = files.flatMap((f) => {
    try {
      return [path.join(fs.realpathSync(path.dirname(f)), path.basename(f))];
    } catch {
      return [];
    }
  });
  return [...new Set([...files, ...real])];
}
