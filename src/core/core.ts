/**
 * Core: every business rule of the server, composed once. Adapters (HTTP, MQTT, CLI) hold a Core
 * and call its services with the Actor a request comes from; nothing here knows HTTP.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Catalog, type Job } from '../catalog/index.js';
import { VERSION } from '../repo/index.js';
import { AuditLog } from './audit.js';
import { AuthService } from './auth.js';
import { BackupService, type Identity, type Limits } from './backups.js';
import { BUILTIN_INSTANCE, InstanceService } from './instances.js';
import { backupExecutor } from './jobs/backup-executor.js';
import { JobEvents } from './jobs/events.js';
import { restoreExecutor } from './jobs/restore-executor.js';
import { retentionExecutor } from './jobs/retention-executor.js';
import { JobRunner } from './jobs/runner.js';
import { JobService } from './jobs.js';
import { CoreError } from './errors.js';
import { renderMetrics } from './metrics.js';
import { SYSTEM_ACTOR } from './permissions.js';
import { RepositoryService } from './repositories.js';
import { Scheduler } from './scheduler.js';
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
  log?: (msg: string, err?: unknown) => void;
}

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
  private runner: JobRunner | undefined;
  private scheduler: Scheduler | undefined;
  /** Set on the first start of an empty data directory. */
  bootstrap: BootstrapCredentials | undefined;

  private constructor(readonly catalog: Catalog, readonly secret: ServerSecret, private readonly opts: CoreOptions, private readonly log: (msg: string, err?: unknown) => void) {
    this.audit = new AuditLog(catalog, (err) => log('audit log write failed', err));
    this.auth = new AuthService(catalog, this.audit);
    this.repositories = new RepositoryService(catalog, secret, this.audit);
    this.instances = new InstanceService(catalog, this.audit);
    this.identity = {
      hostname: opts.identity?.hostname ?? 'localhost', model: opts.identity?.model ?? 'coffer', serial: opts.identity?.serial ?? '',
      swVersion: opts.identity?.swVersion ?? VERSION,
    };
    const limits: Limits = { maxBackupsPerInstance: opts.limits?.maxBackupsPerInstance ?? 0, maxBackupsPerAccount: opts.limits?.maxBackupsPerAccount ?? 0 };
    this.backups = new BackupService(catalog, this.repositories, () => this.runner, this.audit, this.identity, limits);
    this.jobs = new JobService(catalog, this.events, () => this.runner, this.audit);
    this.schedules = new ScheduleService(catalog, this.audit);
  }

  static async start(opts: CoreOptions): Promise<Core> {
    const log = opts.log ?? (() => {});
    const catalog = await Catalog.open(opts.catalog ?? `sqlite:${path.join(opts.dataDir, 'coffer.db')}`);
    try {
      const secret = ServerSecret.loadOrCreate(opts.secretFile ?? path.join(opts.dataDir, 'secret.key'));
      const core = new Core(catalog, secret, opts, log);
      await core.firstStart();
      const role = opts.role ?? 'all';
      if (role !== 'api') await core.startWorkers();
      return core;
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
      const password = this.opts.adminPassword ?? randomBytes(18).toString('base64url');
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
      backup: backupExecutor(this.catalog, this.repositories, w),
      restore: restoreExecutor(this.catalog, this.repositories, w),
      retention: retentionExecutor(this.catalog, this.repositories, this.audit),
    }, {
      concurrency: this.opts.jobConcurrency ?? 2,
      log: this.log,
      onFinished: (job) => this.afterJob(job),
      onOrphan: async (job, reason) => {
        if (job.kind === 'backup' && job.backupId) await this.catalog.backups.update(job.backupId, { status: 'error', statusInfo: reason });
      },
    });
    await this.runner.start();
    this.scheduler = new Scheduler(this.catalog, this.backups, this.audit, this.log);
    this.scheduler.start();
  }

  /** After a scheduled backup succeeds, its schedule's retention runs (once at a time per instance). */
  private async afterJob(job: Job): Promise<void> {
    if (job.kind !== 'backup' || job.state !== 'success' || job.scheduleId === null) return;
    const s = await this.catalog.schedules.get(job.scheduleId);
    const policy = s && retentionPolicy(s);
    if (!policy) return;
    try {
      await this.catalog.jobs.enqueue({ kind: 'retention', instanceId: job.instanceId, backupId: null, scheduleId: s.id, payload: { policy }, createdBy: 'system' });
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

  /** Graceful stop: no new jobs, running ones interrupted and recorded as such, catalog closed. */
  async stop(): Promise<void> {
    this.scheduler?.stop();
    await this.runner?.stop();
    await this.catalog.close();
  }
}
