/**
 * Catalog records ↔ configuration document. Export opens each repository password with the server
 * secret and seals every sensitive value into one block; import checks that the document makes a
 * working configuration (names, parts, cron expressions, references, at least one admin) and
 * re-seals the repository passwords under the server secret that will be in force.
 */
import type { ConfigNotification, ConfigurationRecords, ConfigSchedule } from '../../catalog/index.js';
import { parseLocation } from '../../storage/index.js';
import { CoreError } from '../errors.js';
import { validateParts } from '../parts.js';
import { checkChannel, httpUrl } from '../notifications/index.js';
import { nextRun } from '../schedules.js';
import type { ServerSecret } from '../secrets.js';
import {
  type AccountsAndLocations, type ConfigurationDocument, DOCUMENT_FILE, FORMAT_NAME, FORMAT_VERSION, type NotificationEntry, type ReadableConfiguration, type SensitiveValues, authenticatedData,
} from './document.js';
import type { Sealer } from './sealing.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/**
 * `sealAccounts`: users, API keys and repositories go into the sealed block and the readable
 * part's lists stay empty (a device backup's copy, which whoever may read the backup can read).
 */
export function buildDocument(records: ConfigurationRecords, o: { secret: ServerSecret; secretBytes: Buffer | null; sealer: Sealer; cofferVersion: string; sealAccounts?: boolean }): ConfigurationDocument {
  const repositoryPasswords: Record<string, string> = {};
  const repositoryOptions: Record<string, Record<string, string>> = {};
  for (const r of records.repositories) {
    try {
      repositoryPasswords[r.name] = o.secret.open(r.passwordSealed);
      if (r.optionsSealed !== null) repositoryOptions[r.name] = JSON.parse(o.secret.open(r.optionsSealed)) as Record<string, string>;
    } catch (err) {
      throw new CoreError('internal', `repository ${r.name}: its password does not open with the server secret, so it cannot be exported: ${(err as Error).message}`, undefined, { cause: err });
    }
  }
  const all: ReadableConfiguration = {
    repositories: records.repositories.map((r) => ({ name: r.name, location: r.location, created_at: r.createdAt })),
    instances: records.instances.map((i) => ({ name: i.name, description: i.description, repository: i.repository, parts: i.parts, created_at: i.createdAt })),
    schedules: records.schedules.map((s) => ({
      instance: s.instance, cron: s.cron, timezone: s.timezone, type: s.type, enabled: s.enabled, retention_days: s.retentionDays,
      keep_last: s.keepLast, keep_hourly: s.keepHourly, keep_daily: s.keepDaily, keep_weekly: s.keepWeekly, keep_monthly: s.keepMonthly, keep_yearly: s.keepYearly,
      label: s.label, overdue_grace_seconds: s.overdueGraceSeconds ?? null,
    })),
    users: records.users.map((u) => ({ name: u.name, role: u.role, has_password: u.passwordHash !== null, created_at: u.createdAt })),
    api_keys: records.apiKeys.map((k) => ({ user: k.user, prefix: k.prefix, label: k.label, created_at: k.createdAt })),
    settings: records.settings,
    notifications: records.notifications.map((n) => ({
      name: n.name, kind: n.kind as NotificationEntry['kind'], events: n.events as NotificationEntry['events'], instance: n.instance, enabled: n.enabled, settings: n.settings,
    })),
  };
  const opened = (what: string, sealed: string) => {
    try {
      return o.secret.open(sealed);
    } catch (err) {
      throw new CoreError('internal', `${what}: its secrets do not open with the server secret, so they cannot be exported: ${(err as Error).message}`, undefined, { cause: err });
    }
  };
  const notificationSecrets = Object.fromEntries(records.notifications.filter((n) => n.secretSealed !== null)
    .map((n) => [n.name, JSON.parse(opened(`notification channel ${n.name}`, n.secretSealed!)) as { url?: string; password?: string }]));
  const pingUrls = Object.fromEntries(records.schedules.flatMap((s, i) => (s.pingUrlSealed ? [[String(i), opened(`schedule ${i + 1}`, s.pingUrlSealed)]] : [])));
  const accounts: AccountsAndLocations = { repositories: all.repositories, users: all.users, api_keys: all.api_keys };
  const configuration: ReadableConfiguration = o.sealAccounts ? { ...all, repositories: [], users: [], api_keys: [] } : all;
  const sensitive: SensitiveValues = {
    ...(o.sealAccounts ? { configuration: accounts } : {}),
    server_secret: o.secretBytes ? o.secretBytes.toString('base64') : null,
    repository_passwords: repositoryPasswords,
    repository_options: repositoryOptions,
    password_hashes: Object.fromEntries(records.users.filter((u) => u.passwordHash !== null).map((u) => [u.name, u.passwordHash!])),
    api_key_hashes: records.apiKeys.map((k) => k.keyHash),
    notification_secrets: notificationSecrets,
    schedule_ping_urls: pingUrls,
  };
  const head = { format: FORMAT_NAME, version: FORMAT_VERSION, created_at: new Date().toISOString(), coffer_version: o.cofferVersion, sealing: o.sealer.header, configuration } as const;
  return { ...head, sealed: o.sealer.seal(JSON.stringify(sensitive), authenticatedData(head)) };
}

function bad(message: string): CoreError {
  return new CoreError('invalid', `backup: ${DOCUMENT_FILE}: ${message}`, 'backup');
}

/**
 * The records an import writes. Every reference is checked here, so that the catalog transaction
 * cannot fail half-way for a reason the file holds.
 */
export function toRecords(c: ReadableConfiguration, s: SensitiveValues, newSecret: ServerSecret, now = new Date()): ConfigurationRecords {
  for (const r of c.repositories) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(r.name)) throw bad(`repository name ${JSON.stringify(r.name)} is not valid`);
    if (r.location === '') throw bad(`repository ${r.name} has no location`);
    try {
      parseLocation(r.location);
    } catch (err) {
      throw bad(`repository ${r.name}: ${(err as Error).message}`);
    }
  }
  const repoNames = new Set(c.repositories.map((r) => r.name));
  const instances = c.instances.map((i) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(i.name)) throw bad(`instance name ${JSON.stringify(i.name)} is not valid`);
    if (!repoNames.has(i.repository)) throw bad(`instance ${i.name} names repository ${i.repository}, which the file does not hold`);
    let parts;
    try {
      parts = validateParts(i.parts, `instance ${i.name} parts`);
    } catch (err) {
      throw bad((err as Error).message);
    }
    return { name: i.name, description: i.description, parts, repository: i.repository, createdAt: i.created_at };
  });
  const instanceNames = new Set(c.instances.map((i) => i.name));
  const schedules = c.schedules.map((e, n): ConfigSchedule => {
    if (!instanceNames.has(e.instance)) throw bad(`schedule ${n + 1} is for instance ${e.instance}, which the file does not hold`);
    let next: Date | null;
    try {
      next = nextRun(e.cron, e.timezone, now);
    } catch (err) {
      throw bad(`schedule ${n + 1}: ${(err as Error).message}`);
    }
    const keep = (v: number | null) => (v === 0 ? null : v);
    return {
      instance: e.instance, cron: e.cron, timezone: e.timezone, type: e.type, enabled: e.enabled, retentionDays: keep(e.retention_days),
      keepLast: keep(e.keep_last), keepHourly: keep(e.keep_hourly), keepDaily: keep(e.keep_daily), keepWeekly: keep(e.keep_weekly),
      keepMonthly: keep(e.keep_monthly), keepYearly: keep(e.keep_yearly), label: e.label, nextRunAt: e.enabled && next ? next.toISOString() : null,
      overdueGraceSeconds: e.overdue_grace_seconds ?? null, pingUrlSealed: pingUrlOf(s, n, newSecret),
    };
  });
  for (const u of c.users) if (!NAME_RE.test(u.name)) throw bad(`user name ${JSON.stringify(u.name)} is not valid`);
  // Without an admin nobody could ever change the configuration again.
  if (!c.users.some((u) => u.role === 'admin')) throw bad('no user has the role admin');
  const userNames = new Set(c.users.map((u) => u.name));
  const apiKeys = c.api_keys.map((k, i) => {
    if (!userNames.has(k.user)) throw bad(`API key ${k.prefix} belongs to user ${k.user}, who is not in the file`);
    return { user: k.user, prefix: k.prefix, keyHash: s.api_key_hashes[i]!, label: k.label, createdAt: k.created_at };
  });
  return {
    repositories: c.repositories.map((r) => ({ name: r.name, location: r.location, passwordSealed: newSecret.seal(s.repository_passwords[r.name]!),
      optionsSealed: s.repository_options?.[r.name] ? newSecret.seal(JSON.stringify(s.repository_options[r.name])) : null,
      createdAt: r.created_at,
    })),
    instances, schedules,
    users: c.users.map((u) => ({ name: u.name, role: u.role, passwordHash: u.has_password ? s.password_hashes[u.name]! : null, createdAt: u.created_at })),
    apiKeys, settings: c.settings, notifications: (c.notifications ?? []).map((n) => notificationRecord(n, s, newSecret)),
  };
}

function pingUrlOf(s: SensitiveValues, index: number, newSecret: ServerSecret): string | null {
  const url = s.schedule_ping_urls?.[String(index)];
  if (url === undefined) return null;
  try {
    return newSecret.seal(httpUrl('ping_url', url));
  } catch (err) {
    throw bad(`schedule ${index + 1}: ${(err as Error).message}`);
  }
}

/** A channel of the file, checked as the API checks one, its secrets sealed under the secret in force. */
function notificationRecord(n: NotificationEntry, s: SensitiveValues, newSecret: ServerSecret): ConfigNotification {
  const secrets = s.notification_secrets?.[n.name] ?? {};
  const e = n.settings;
  const body: Record<string, unknown> = {
    name: n.name, kind: n.kind, events: n.events, instance: n.instance, enabled: n.enabled, url: secrets.url,
    ...(n.kind === 'email' ? { smtp_host: e['host'], smtp_port: e['port'], smtp_tls: e['tls'], smtp_user: e['user'], smtp_password: secrets.password ?? null, from: e['from'], to: e['to'] } : {}),
  };
  let c;
  try {
    c = checkChannel(body, undefined);
  } catch (err) {
    throw bad(`notification channel ${n.name}: ${(err as Error).message}`);
  }
  return {
    name: c.name, kind: c.kind, events: c.events, instance: c.instance, enabled: c.enabled, settings: c.settings,
    secretSealed: Object.keys(c.secrets).length > 0 ? newSecret.seal(JSON.stringify(c.secrets)) : null,
  };
}
