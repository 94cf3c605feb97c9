/**
 * ConfigurationService: Coffer's own configuration exported as a password-sealed ZIP, imported
 * back (everything checked first, then one catalog transaction, then the services restarted in
 * this process), reset to its first-start state, and carried inside every backup of the built-in
 * instance `device` (sealed under the server secret) so that restoring one puts it back.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type Backup, type Catalog, type ConfigurationRecords, ConfigurationStore, type Instance, type ReplaceOptions, type ReplaceReport } from '../../catalog/index.js';
import { restore } from '../../repo/index.js';
import type { AuditLog } from '../audit.js';
import { AuthService, checkBootstrapCredentials, sha256Hex } from '../auth.js';
import { CoreError, invalid } from '../errors.js';
import { BUILTIN_INSTANCE } from '../instances.js';
import type { DirectoryPart } from '../parts.js';
import { type Actor, requirePermission } from '../permissions.js';
import { ServerSecret } from '../secrets.js';
import { buildDocument, toRecords } from './codec.js';
import { type ConfigurationDocument, MAX_DOCUMENT_BYTES, type ParsedDocument, parseDocument, parseSensitive } from './document.js';
import type { OwnParts, OwnPartsRestore } from './own-parts.js';
import { Sealer } from './sealing.js';
import { PendingSecret, readSecretBytes, writeFileAtomic } from './secret-file.js';
import { readConfigurationZip, writeConfigurationZip } from './zip.js';

/** The part a backup of `device` always has, and the file in it. */
export const CONFIGURATION_PART = 'coffer-configuration';
export const CONFIGURATION_FILE = 'coffer-configuration.json';
export const FACTORY_RESET_SETTING = 'factory_reset_at';
const MAX_PASSWORD = 1024;

export interface ConfigurationDeps {
  catalog: Catalog;
  secret: ServerSecret;
  secretFile: string;
  dataDir: string;
  audit: AuditLog;
  cofferVersion: string;
  /** The admin's credentials after a reset: given ones (COFFER_ADMIN_PASSWORD/…) or generated and logged. */
  admin: { password?: string | undefined; apiKey?: string | undefined };
  log: (msg: string, err?: unknown) => void;
  /** Stops and starts scheduler and job runner, reloads the secret, forgets cached credentials. */
  restartServices: () => Promise<void>;
}

export class ConfigurationService implements OwnParts {
  private readonly store: ConfigurationStore;
  /** One change of the configuration at a time in this process. */
  private busy: Promise<unknown> = Promise.resolve();
  /** Restore jobs that put a configuration back: services restart once the job has ended. */
  private readonly restartAfter = new Set<number>();

  constructor(private readonly deps: ConfigurationDeps) {
    this.store = new ConfigurationStore(deps.catalog);
  }

  /** Where a backup of `device` finds the configuration (a directory of its own, so the part holds nothing else). */
  get stateDir(): string {
    return path.join(this.deps.dataDir, 'state', 'configuration');
  }

  async exportEncrypted(actor: Actor, password: string): Promise<Buffer> {
    requirePermission(actor, 'config.manage');
    checkPassword(password);
    const sealer = await Sealer.forPassword(password);
    const doc = await this.document(sealer, readSecretBytes(this.deps.secretFile));
    const zip = await writeConfigurationZip(JSON.stringify(doc, null, 2));
    await this.deps.audit.record(actor, 'configuration.export', 'configuration', {
      repositories: doc.configuration.repositories.length, instances: doc.configuration.instances.length, users: doc.configuration.users.length,
    });
    return zip;
  }

  async importEncrypted(actor: Actor, zip: Buffer, password: string): Promise<void> {
    requirePermission(actor, 'config.manage');
    checkPassword(password);
    const doc = parseDocument(await readConfigurationZip(zip));
    if (doc.sealing.method !== 'password') {
      throw new CoreError('invalid', 'backup: this configuration is sealed under a server secret (it comes from a backup of the device), not a password; restore that backup instead', 'backup');
    }
    await this.exclusive(async () => {
      const { report } = await this.apply(doc, password);
      await this.deps.audit.record(actor, 'configuration.import', 'configuration', auditDetail(report));
    });
    await this.deps.restartServices();
  }

  async resetToFirstStart(actor: Actor): Promise<{ at: string; message: string }> {
    requirePermission(actor, 'config.manage');
    checkBootstrapCredentials(this.deps.admin);
    const password = this.deps.admin.password ?? randomBytes(18).toString('base64url');
    const apiKey = this.deps.admin.apiKey ?? AuthService.newApiKey().key;
    const passwordHash = await AuthService.hashPassword(password);
    const at = new Date().toISOString();
    const report = await this.exclusive(() => this.store.resetToFirstStart({
      // The prefix as AuthService shows it: `cfr_` and six more characters.
      admin: { passwordHash, keyPrefix: apiKey.slice(0, 10), keyHash: sha256Hex(apiKey), keyLabel: 'factory reset' },
      builtin: { name: BUILTIN_INSTANCE, description: 'This server (Riverbed and Kanto act on it)', repository: 'default' },
      settings: { [FACTORY_RESET_SETTING]: at },
    }));
    const generated = [this.deps.admin.password === undefined ? `password ${password}` : '', this.deps.admin.apiKey === undefined ? `API key ${apiKey}` : ''].filter(Boolean);
    // Shown once, as on first start: only hashes are kept.
    if (generated.length) this.deps.log(`factory reset: user admin now has ${generated.join(' and ')}; store them now, they are not shown again`);
    await this.deps.audit.record(actor, 'configuration.reset', 'configuration', { at, instances_kept: report.instancesKept, instances_deleted: report.instancesDeleted });
    await this.deps.restartServices();
    const kept = report.instancesKept.length ? ` Instances kept because they have backups: ${report.instancesKept.map((k) => k.name).join(', ')}.` : '';
    return {
      at,
      message: `Coffer's configuration is back to its first-start state: user admin only, no schedules, no settings, instance ${BUILTIN_INSTANCE} without parts.${kept} No repository and no backup was deleted.`,
    };
  }

  // --- the configuration inside backups of `device` ------------------------------------------

  async forBackup(instance: Instance): Promise<DirectoryPart[]> {
    if (instance.name !== BUILTIN_INSTANCE) return [];
    // Whoever may read a backup of device may read this file: accounts and repository locations are sealed too.
    const doc = await this.document(Sealer.forServerSecret(this.deps.secret), null, true);
    writeFileAtomic(path.join(this.stateDir, CONFIGURATION_FILE), JSON.stringify(doc, null, 2));
    return [{ name: CONFIGURATION_PART, kind: 'directory', path: this.stateDir, exclude: [] }];
  }

  owns(backup: Backup, name: string): boolean {
    return backup.instance === BUILTIN_INSTANCE && name === CONFIGURATION_PART;
  }

  restores(backup: Backup, target: Instance, paths: readonly string[] | undefined): boolean {
    const dir = recordedDir(backup);
    if (backup.instance !== BUILTIN_INSTANCE || target.name !== BUILTIN_INSTANCE || dir === undefined) return false;
    return !paths?.length || paths.some((p) => p === dir || p.startsWith(`${dir}/`));
  }

  async restore(o: OwnPartsRestore): Promise<string | null> {
    const dir = recordedDir(o.backup)!;
    const stage = path.join(this.stateDir, `.restore-${o.job.id}`);
    const unchanged = (why: string) => `Coffer's configuration was not restored (${why}); the running configuration is unchanged`;
    await fs.rm(stage, { recursive: true, force: true });
    await fs.mkdir(stage, { recursive: true, mode: 0o700 });
    try {
      await restore(o.repo, o.snapshot, { target: stage, include: [path.join(dir, CONFIGURATION_FILE)], signal: o.signal, workers: 0 });
      const file = path.join(stage, dir, CONFIGURATION_FILE);
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile()) return unchanged(`the backup holds no ${CONFIGURATION_FILE}`);
      if (stat.size > MAX_DOCUMENT_BYTES) return unchanged(`${CONFIGURATION_FILE} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      const actor: Actor = { name: o.job.createdBy ?? 'system', role: 'admin' };
      try {
        const doc = parseDocument(await fs.readFile(file, 'utf8'));
        if (doc.sealing.method !== 'server-secret') return unchanged(`${CONFIGURATION_FILE} is not sealed under this server's secret`);
        await this.exclusive(async () => {
          const before = await this.store.read();
          const { report, records } = await this.apply(doc, undefined);
          const credentials = credentialsPutBack(before, records, o.backup.id);
          await this.deps.audit.record(actor, 'configuration.restore', 'configuration', { backup_id: o.backup.id, job_id: o.job.id, ...auditDetail(report), ...credentials.detail });
          o.notice?.(credentials.message);
        });
      } catch (err) {
        if (err instanceof CoreError && err.code === 'invalid') return unchanged(err.message);
        throw err;
      }
      this.restartAfter.add(o.job.id);
      return null;
    } finally {
      await fs.rm(stage, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Removes what restore job `jobId` staged of the configuration, when the job died with its process. */
  async removeStaging(jobId: number): Promise<void> {
    await fs.rm(path.join(this.stateDir, `.restore-${jobId}`), { recursive: true, force: true });
  }

  /** True once for a restore job that put a configuration back: its end is when the services restart. */
  takeRestartAfter(jobId: number): boolean {
    return this.restartAfter.delete(jobId);
  }

  // --- inside ----------------------------------------------------------------------------------

  private async document(sealer: Sealer, secretBytes: Buffer | null, sealAccounts = false): Promise<ConfigurationDocument> {
    return buildDocument(await this.store.read(), { secret: this.deps.secret, secretBytes, sealer, cofferVersion: this.deps.cofferVersion, sealAccounts });
  }

  /**
   * Opens and checks everything, then writes it in one transaction. When the file carries another
   * server secret, that secret is adopted: every repository password is sealed under it, the new
   * secret file is ready (fsynced) before the transaction and put in place right after it commits.
   */
  private async apply(doc: ParsedDocument, password: string | undefined): Promise<{ report: ReplaceReport; records: ConfigurationRecords }> {
    const sealer = await Sealer.fromHeader(doc.sealing, password, this.deps.secret);
    const { configuration, sensitive } = parseSensitive(sealer.open(doc.sealed, doc.authenticated), doc.configuration);
    const current = readSecretBytes(this.deps.secretFile);
    const incoming = sensitive.server_secret === null ? null : Buffer.from(sensitive.server_secret, 'base64');
    const adopt = incoming !== null && !(incoming.length === current.length && timingSafeEqual(incoming, current));
    const secret = adopt ? ServerSecret.fromBytes(incoming) : this.deps.secret;
    const records: ConfigurationRecords = toRecords(configuration, sensitive, secret);
    const resealed: ReplaceOptions['resealed'] = {};
    if (adopt) {
      // Repositories the file does not name stay; their passwords must open under the new secret too.
      const named = new Set(records.repositories.map((r) => r.name));
      for (const r of (await this.store.read()).repositories.filter((r) => !named.has(r.name))) {
        try {
          resealed[r.name] = {
            passwordSealed: secret.seal(this.deps.secret.open(r.passwordSealed)),
            optionsSealed: r.optionsSealed === null ? null : secret.seal(this.deps.secret.open(r.optionsSealed)),
          };
        } catch (err) {
          this.deps.log(`configuration restore: repository ${r.name} keeps a password that does not open with the current secret`, err);
        }
      }
    }
    const pending = adopt ? PendingSecret.prepare(this.deps.secretFile, incoming) : undefined;
    let report: ReplaceReport;
    try {
      report = await this.store.replace(records, { resealed, alwaysKept: [BUILTIN_INSTANCE] });
    } catch (err) {
      pending?.discard();
      throw err;
    }
    if (pending) {
      pending.commit();
      // At once, not only at the restart: the catalog's passwords are sealed under it from now on.
      this.deps.secret.reload(this.deps.secretFile);
    }
    return { report, records };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => {});
    return run;
  }
}

function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password === '') throw invalid('password', 'is required: the password that seals the sensitive values');
  if (password.length > MAX_PASSWORD) throw invalid('password', `must be at most ${MAX_PASSWORD} characters`);
}

function recordedDir(b: Backup): string | undefined {
  const dir = (b.extra?.['part_paths'] as Record<string, unknown> | undefined)?.[CONFIGURATION_PART];
  return typeof dir === 'string' ? dir : undefined;
}

/**
 * A restored configuration brings back its users, passwords and API keys as they were at backup
 * time: a key revoked (or a user deleted, a password changed) since then works again. The job's
 * result and the audit entry say so, with numbers, so that an admin revokes them again.
 */
function credentialsPutBack(before: ConfigurationRecords, after: ConfigurationRecords, backupId: number): { message: string; detail: Record<string, unknown> } {
  const keysBefore = new Set(before.apiKeys.map((k) => k.keyHash));
  const usersBefore = new Map(before.users.map((u) => [u.name, u.passwordHash]));
  const revived = after.apiKeys.filter((k) => !keysBefore.has(k.keyHash)).map((k) => k.prefix);
  const usersBack = after.users.filter((u) => !usersBefore.has(u.name)).map((u) => u.name);
  const passwordsBack = after.users.filter((u) => usersBefore.has(u.name) && usersBefore.get(u.name) !== u.passwordHash).map((u) => u.name);
  const changes = [
    revived.length ? `${revived.length} API keys not in use before came back (${revived.join(', ')})` : '',
    usersBack.length ? `users ${usersBack.join(', ')} came back` : '',
    passwordsBack.length ? `the passwords of ${passwordsBack.join(', ')} are those of the backup` : '',
  ].filter(Boolean);
  const message = `Coffer's configuration was restored from backup ${backupId}, with its ${after.users.length} users and ${after.apiKeys.length} API keys as they were then`
    + (changes.length ? `: ${changes.join('; ')}. Revoke what should stay revoked.` : '.');
  return {
    message,
    detail: { users_restored: after.users.length, api_keys_restored: after.apiKeys.length, api_keys_revived: revived, users_revived: usersBack, passwords_reverted: passwordsBack, warning: message },
  };
}

function auditDetail(r: ReplaceReport): Record<string, unknown> {
  return {
    instances_deleted: r.instancesDeleted,
    // Backups are data, not configuration: an instance that has some stays, and the log says why.
    instances_kept: r.instancesKept.map((k) => `${k.name}: kept, ${k.reason}`),
    repositories_kept: r.repositoriesKept,
  };
}
