/**
 * Coffer's own configuration as catalog rows: read whole, replaced whole, or put back to its
 * first-start state, each in ONE transaction. Backups and the data of repositories are not
 * configuration: nothing here deletes a backup or a repository, and an instance that still has
 * backups (or jobs under way) is kept even when the new configuration does not name it.
 */
import type { Kysely } from 'kysely';
import type { Catalog } from './catalog.js';
import { parseJson } from './json.js';
import type { Database } from './schema.js';
import { type ScheduleInput, scheduleColumns, toSchedule } from './schedules.js';
import { ACTIVE_JOB_STATES, type PartSpec, type Role, nowIso } from './types.js';

export interface ConfigRepository {
  name: string;
  location: string;
  passwordSealed: string;
  /** Backend options sealed like the password; null: none. */
  optionsSealed: string | null;
  createdAt: string;
}

export interface ConfigInstance {
  name: string;
  description: string | null;
  parts: PartSpec[];
  /** The repository's name. */
  repository: string;
  createdAt: string;
}

/** A schedule's settings with its instance by name; `nextRunAt` is computed by core when writing, ignored when reading. */
export type ConfigSchedule = Omit<ScheduleInput, 'instanceId'> & { instance: string; /** Its ping URL, sealed; null or absent: none. */ pingUrlSealed?: string | null };

/** A notification channel; its secrets sealed like a repository's options. */
export interface ConfigNotification {
  name: string;
  kind: string;
  events: string[];
  instance: string | null;
  enabled: boolean;
  settings: Record<string, unknown>;
  secretSealed: string | null;
}

export interface ConfigUser {
  name: string;
  role: Role;
  passwordHash: string | null;
  createdAt: string;
}

export interface ConfigApiKey {
  /** The owner's name. */
  user: string;
  prefix: string;
  keyHash: string;
  label: string | null;
  createdAt: string;
}

export interface ConfigurationRecords {
  repositories: ConfigRepository[];
  instances: ConfigInstance[];
  schedules: ConfigSchedule[];
  users: ConfigUser[];
  apiKeys: ConfigApiKey[];
  settings: Record<string, string>;
  notifications: ConfigNotification[];
}

export interface ReplaceOptions {
  /** Sealed passwords (and backend options, if any) of repositories the new configuration does not name (re-sealed under another secret), by name. */
  resealed: Record<string, { passwordSealed: string; optionsSealed: string | null }>;
  /** Instances never deleted (the built-in one). */
  alwaysKept: string[];
}

export interface KeptInstance {
  name: string;
  reason: string;
}

export interface ReplaceReport {
  /** Instances that are not in the new configuration but stay, and why. */
  instancesKept: KeptInstance[];
  instancesDeleted: string[];
  /** Repositories that are not in the new configuration but stay (repositories are never deleted). */
  repositoriesKept: string[];
}

export interface FirstStartState {
  admin: { passwordHash: string; keyPrefix: string; keyHash: string; keyLabel: string };
  /** The built-in instance: created if missing, its parts emptied. */
  builtin: { name: string; description: string; repository: string };
  /** Written after the settings are cleared (the reset's own marker). */
  settings: Record<string, string>;
}

type Tx = Kysely<Database>;

export class ConfigurationStore {
  constructor(private readonly catalog: Catalog) {}

  async read(): Promise<ConfigurationRecords> {
    return this.catalog.transaction(async (tx) => {
      const repos = await tx.selectFrom('repositories').selectAll().orderBy('id').execute();
      const repoName = new Map(repos.map((r) => [r.id, r.name]));
      const instances = await tx.selectFrom('instances').selectAll().orderBy('name').execute();
      const schedules = await tx.selectFrom('schedules').innerJoin('instances', 'instances.id', 'schedules.instance_id')
        .selectAll('schedules').select('instances.name as instance').orderBy('schedules.id').execute();
      const users = await tx.selectFrom('users').selectAll().orderBy('name').execute();
      const keys = await tx.selectFrom('api_keys').innerJoin('users', 'users.id', 'api_keys.user_id')
        .selectAll('api_keys').select('users.name as user').orderBy('api_keys.id').execute();
      const settings = await tx.selectFrom('settings').selectAll().orderBy('key').execute();
      const channels = await tx.selectFrom('notification_channels').selectAll().orderBy('name').execute();
      return {
        repositories: repos.map((r) => ({ name: r.name, location: r.location, passwordSealed: r.password_sealed, optionsSealed: r.options_sealed, createdAt: r.created_at })),
        instances: instances.map((i) => ({
          name: i.name, description: i.description, parts: parseJson<PartSpec[]>(i.parts, []), repository: repoName.get(i.repository_id) ?? '', createdAt: i.created_at,
        })),
        schedules: schedules.map((r): ConfigSchedule => {
          const { id: _id, instanceId: _instanceId, createdAt: _c, updatedAt: _u, lastRunAt: _l, lastResult: _r, overdueReportedFor: _o, ...settings } = toSchedule(r);
          return settings;
        }),
        users: users.map((u) => ({ name: u.name, role: u.role as Role, passwordHash: u.password_hash, createdAt: u.created_at })),
        apiKeys: keys.map((k) => ({ user: k.user, prefix: k.prefix, keyHash: k.key_hash, label: k.label, createdAt: k.created_at })),
        settings: Object.fromEntries(settings.map((s) => [s.key, s.value])),
        notifications: channels.map((c) => ({
          name: c.name, kind: c.kind, events: parseJson<string[]>(c.events, []), instance: c.instance, enabled: c.enabled === 1,
          settings: parseJson<Record<string, unknown>>(c.settings, {}), secretSealed: c.secret_sealed,
        })),
      };
    });
  }

  /** Makes the catalog's configuration `next`, in one transaction (all of it or nothing). */
  async replace(next: ConfigurationRecords, o: ReplaceOptions): Promise<ReplaceReport> {
    return this.catalog.transaction(async (tx) => {
      const repositoriesKept = await this.replaceRepositories(tx, next.repositories, o.resealed);
      const { kept, deleted } = await this.replaceInstances(tx, next.instances, o.alwaysKept);
      await tx.deleteFrom('schedules').execute();
      await this.insertSchedules(tx, next.schedules);
      await this.replaceUsers(tx, next.users, next.apiKeys);
      await this.replaceSettings(tx, next.settings);
      await this.replaceNotifications(tx, next.notifications);
      return { instancesKept: kept, instancesDeleted: deleted, repositoriesKept };
    });
  }

  /**
   * First start again: one admin with one key, no schedules, no settings but `state.settings`,
   * the built-in instance without parts, other instances deleted unless they have backups or jobs.
   */
  async resetToFirstStart(state: FirstStartState): Promise<Omit<ReplaceReport, 'repositoriesKept'>> {
    return this.catalog.transaction(async (tx) => {
      const repo = await tx.selectFrom('repositories').select('id').where('name', '=', state.builtin.repository).executeTakeFirst();
      if (!repo) throw new Error(`repository ${state.builtin.repository} does not exist`);
      const b = state.builtin;
      const existing = await tx.selectFrom('instances').select('id').where('name', '=', b.name).executeTakeFirst();
      const now = nowIso();
      if (existing) {
        await tx.updateTable('instances').set({ description: b.description, parts: '[]', repository_id: repo.id, updated_at: now }).where('id', '=', existing.id).execute();
      } else {
        await tx.insertInto('instances').values({ name: b.name, description: b.description, parts: '[]', repository_id: repo.id, created_at: now, updated_at: now }).execute();
      }
      await tx.deleteFrom('schedules').execute();
      const { kept, deleted } = await this.removeInstancesNotIn(tx, new Set([b.name]));
      await tx.deleteFrom('api_keys').execute();
      await tx.deleteFrom('users').execute();
      const admin = await tx.insertInto('users').values({ name: 'admin', role: 'admin', password_hash: state.admin.passwordHash, created_at: now }).returning('id').executeTakeFirstOrThrow();
      await tx.insertInto('api_keys').values({ user_id: admin.id, prefix: state.admin.keyPrefix, key_hash: state.admin.keyHash, label: state.admin.keyLabel, created_at: now, last_used_at: null }).execute();
      await this.replaceSettings(tx, state.settings);
      await this.replaceNotifications(tx, []);
      return { instancesKept: kept, instancesDeleted: deleted };
    });
  }

  private async replaceRepositories(tx: Tx, repos: ConfigRepository[], resealed: ReplaceOptions['resealed']): Promise<string[]> {
    const existing = new Map((await tx.selectFrom('repositories').select(['id', 'name']).execute()).map((r) => [r.name, r.id]));
    for (const r of repos) {
      const id = existing.get(r.name);
      if (id !== undefined) await tx.updateTable('repositories').set({ location: r.location, password_sealed: r.passwordSealed, options_sealed: r.optionsSealed }).where('id', '=', id).execute();
      else await tx.insertInto('repositories').values({ name: r.name, location: r.location, password_sealed: r.passwordSealed, options_sealed: r.optionsSealed, created_at: r.createdAt }).execute();
    }
    const named = new Set(repos.map((r) => r.name));
    const kept = [...existing.keys()].filter((n) => !named.has(n));
    for (const name of kept) {
      const sealed = resealed[name];
      if (sealed !== undefined) await tx.updateTable('repositories').set({ password_sealed: sealed.passwordSealed, options_sealed: sealed.optionsSealed }).where('id', '=', existing.get(name)!).execute();
    }
    return kept;
  }

  private async replaceInstances(tx: Tx, instances: ConfigInstance[], alwaysKept: string[]): Promise<{ kept: KeptInstance[]; deleted: string[] }> {
    const repoIds = new Map((await tx.selectFrom('repositories').select(['id', 'name']).execute()).map((r) => [r.name, r.id]));
    const now = nowIso();
    for (const i of instances) {
      const repositoryId = repoIds.get(i.repository);
      if (repositoryId === undefined) throw new Error(`instance ${i.name}: repository ${i.repository} does not exist`);
      const row = { description: i.description, parts: JSON.stringify(i.parts), repository_id: repositoryId, updated_at: now };
      const r = await tx.updateTable('instances').set(row).where('name', '=', i.name).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) await tx.insertInto('instances').values({ ...row, name: i.name, created_at: i.createdAt }).execute();
    }
    return this.removeInstancesNotIn(tx, new Set([...instances.map((i) => i.name), ...alwaysKept]));
  }

  /** Deletes the instances not named, except those with backups or unfinished jobs (backups are data, never configuration). */
  private async removeInstancesNotIn(tx: Tx, names: Set<string>): Promise<{ kept: KeptInstance[]; deleted: string[] }> {
    const kept: KeptInstance[] = [];
    const deleted: string[] = [];
    for (const i of await tx.selectFrom('instances').select(['id', 'name']).orderBy('name').execute()) {
      if (names.has(i.name)) continue;
      const backups = Number((await tx.selectFrom('backups').where('instance_id', '=', i.id).select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const jobs = Number((await tx.selectFrom('jobs').where('instance_id', '=', i.id).where('state', 'in', [...ACTIVE_JOB_STATES])
        .select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      if (backups > 0 || jobs > 0) {
        kept.push({ name: i.name, reason: backups > 0 ? `it has ${backups} backups` : `it has ${jobs} jobs under way` });
        continue;
      }
      await tx.deleteFrom('schedules').where('instance_id', '=', i.id).execute();
      await tx.deleteFrom('instances').where('id', '=', i.id).execute();
      deleted.push(i.name);
    }
    return { kept, deleted };
  }

  private async insertSchedules(tx: Tx, schedules: ConfigSchedule[]): Promise<void> {
    const ids = new Map((await tx.selectFrom('instances').select(['id', 'name']).execute()).map((i) => [i.name, i.id]));
    const now = nowIso();
    for (const s of schedules) {
      const instanceId = ids.get(s.instance);
      if (instanceId === undefined) throw new Error(`schedule: instance ${s.instance} does not exist`);
      await tx.insertInto('schedules').values({
        ...scheduleColumns({ ...s, instanceId }), ping_url_sealed: s.pingUrlSealed ?? null, created_at: now, updated_at: now, last_run_at: null, last_result: null,
      }).execute();
    }
  }

  private async replaceUsers(tx: Tx, users: ConfigUser[], keys: ConfigApiKey[]): Promise<void> {
    await tx.deleteFrom('api_keys').execute();
    const named = users.map((u) => u.name);
    if (named.length > 0) await tx.deleteFrom('users').where('name', 'not in', named).execute();
    else await tx.deleteFrom('users').execute();
    for (const u of users) {
      const r = await tx.updateTable('users').set({ role: u.role, password_hash: u.passwordHash }).where('name', '=', u.name).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) await tx.insertInto('users').values({ name: u.name, role: u.role, password_hash: u.passwordHash, created_at: u.createdAt }).execute();
    }
    const ids = new Map((await tx.selectFrom('users').select(['id', 'name']).execute()).map((u) => [u.name, u.id]));
    for (const k of keys) {
      const userId = ids.get(k.user);
      if (userId === undefined) throw new Error(`API key ${k.prefix}: user ${k.user} does not exist`);
      await tx.insertInto('api_keys').values({ user_id: userId, prefix: k.prefix, key_hash: k.keyHash, label: k.label, created_at: k.createdAt, last_used_at: null }).execute();
    }
  }

  /** The channels replaced whole; deliveries of channels that go go with them. */
  private async replaceNotifications(tx: Tx, channels: ConfigNotification[]): Promise<void> {
    await tx.deleteFrom('notification_deliveries').where('channel_id', 'is not', null).execute();
    await tx.deleteFrom('notification_channels').execute();
    const now = nowIso();
    for (const c of channels) {
      await tx.insertInto('notification_channels').values({
        name: c.name, kind: c.kind, events: JSON.stringify(c.events), instance: c.instance, enabled: c.enabled ? 1 : 0,
        settings: JSON.stringify(c.settings), secret_sealed: c.secretSealed, created_at: now, updated_at: now,
      }).execute();
    }
  }

  private async replaceSettings(tx: Tx, settings: Record<string, string>): Promise<void> {
    await tx.deleteFrom('settings').execute();
    for (const [key, value] of Object.entries(settings)) await tx.insertInto('settings').values({ key, value }).execute();
  }
}
