/**
 * The configuration document (`configuration.json`): everything that is Coffer's configuration,
 * readable JSON but for one sealed block of the sensitive values. Parsing checks every field and
 * says which one is wrong; nothing is trusted because Coffer wrote it once.
 */
import { ROLES, BACKUP_TYPES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS, type PartSpec, type Role, type BackupKind, type NotificationChannelFields } from '../../catalog/index.js';
import { CoreError } from '../errors.js';
import type { SealedBlock, SealingHeader } from './sealing.js';

export const FORMAT_NAME = 'coffer-configuration';
export const FORMAT_VERSION = 1;
export const DOCUMENT_FILE = 'configuration.json';
/** Far above any real configuration; a bigger "configuration" is not one. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

export interface RepositoryEntry { name: string; location: string; created_at: string }
export interface InstanceEntry { name: string; description: string | null; repository: string; parts: PartSpec[]; created_at: string }
export interface ScheduleEntry {
  instance: string;
  cron: string;
  timezone: string | null;
  type: BackupKind;
  enabled: boolean;
  retention_days: number | null;
  keep_last: number | null;
  keep_hourly: number | null;
  keep_daily: number | null;
  keep_weekly: number | null;
  keep_monthly: number | null;
  keep_yearly: number | null;
  label: string | null;
  /** Absent in files of Coffer before 2026-12-09 (the default grace). */
  overdue_grace_seconds?: number | null;
}
/** A notification channel without its secrets (in the sealed block's `notification_secrets`). */
export type NotificationEntry = NotificationChannelFields;
export interface UserEntry { name: string; role: Role; has_password: boolean; created_at: string }
export interface ApiKeyEntry { user: string; prefix: string; label: string | null; created_at: string }

/** What anyone may read: names, locations, parts, schedules, roles, settings. */
export interface ReadableConfiguration {
  repositories: RepositoryEntry[];
  instances: InstanceEntry[];
  schedules: ScheduleEntry[];
  users: UserEntry[];
  api_keys: ApiKeyEntry[];
  settings: Record<string, string>;
  /** Absent in files of Coffer before 2026-12-09 (none). */
  notifications?: NotificationEntry[];
}

/**
 * Who may sign in and where the repositories are: in a device backup's copy these are sealed,
 * not readable, because anyone who may read that backup (a viewer) must not learn them.
 */
export type AccountsAndLocations = Pick<ReadableConfiguration, 'repositories' | 'users' | 'api_keys'>;
export const SEALED_LISTS = ['repositories', 'users', 'api_keys'] as const;

/** What the sealed block holds. */
export interface SensitiveValues {
  /** The lists the readable part leaves empty (a device backup's copy); absent when the readable part has them. */
  configuration?: AccountsAndLocations;
  /** Base64 of the server secret; null in a device backup's copy (it is sealed under that secret). */
  server_secret: string | null;
  /** Repository name → password. */
  repository_passwords: Record<string, string>;
  /** Repository name → backend options (object-storage credentials among them); absent in files of Coffer before 2026-12. */
  repository_options?: Record<string, Record<string, string>>;
  /** User name → argon2id PHC string, for the users with `has_password`. */
  password_hashes: Record<string, string>;
  /** SHA-256 (hex) of each API key, in the order of `api_keys`. */
  api_key_hashes: string[];
  /** Channel name → its secrets (a webhook URL, an SMTP password). */
  notification_secrets?: Record<string, { url?: string; password?: string }>;
  /** Index in `schedules` (as a string) → that schedule's Healthchecks ping URL. */
  schedule_ping_urls?: Record<string, string>;
}

export interface ConfigurationDocument {
  format: typeof FORMAT_NAME;
  version: typeof FORMAT_VERSION;
  created_at: string;
  coffer_version: string;
  sealing: SealingHeader;
  configuration: ReadableConfiguration;
  sealed: SealedBlock;
}

export const SCHEDULE_KEEPS = ['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly'] as const;

/**
 * The bytes the sealed block authenticates: all of the document but the block itself, as written.
 * An import computes them from the JSON as read (not from the checked copy), so that any change
 * to the file, even one the checks would let through, is noticed.
 */
export function authenticatedData(d: Pick<ConfigurationDocument, 'format' | 'version' | 'created_at' | 'coffer_version' | 'sealing' | 'configuration'>): string {
  return JSON.stringify({ format: d.format, version: d.version, created_at: d.created_at, coffer_version: d.coffer_version, sealing: d.sealing, configuration: d.configuration });
}

/** A document as read, with the bytes its sealed block authenticates. */
export interface ParsedDocument extends ConfigurationDocument {
  authenticated: string;
}

// --- parsing ------------------------------------------------------------------------------------

function bad(at: string, what: string): CoreError {
  return new CoreError('invalid', `backup: ${DOCUMENT_FILE}: ${at} ${what}`, 'backup');
}

type Obj = Record<string, unknown>;

function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(at, 'must be an object');
  return v as Obj;
}
function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw bad(at, 'must be an array');
  return v;
}
function str(v: unknown, at: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max || v.includes('\0')) throw bad(at, `must be a string of at most ${max} characters`);
  return v;
}
function nstr(v: unknown, at: string, max = 4096): string | null {
  return v === null ? null : str(v, at, max);
}
function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw bad(at, 'must be true or false');
  return v;
}
function count(v: unknown, at: string, max: number): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(at, `must be null or a whole number from 0 to ${max}`);
  return v;
}
function oneOf<T extends string>(v: unknown, values: readonly T[], at: string): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw bad(at, `must be one of ${values.join(', ')}`);
  return v as T;
}
function b64(v: unknown, at: string): string {
  const s = str(v, at, 64 * 1024 * 1024);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw bad(at, 'must be base64');
  return s;
}
function unique<T>(items: T[], key: (t: T) => string, at: string): void {
  const seen = new Set<string>();
  for (const i of items) {
    const k = key(i);
    if (seen.has(k)) throw bad(at, `names ${k} twice`);
    seen.add(k);
  }
}

/** configuration.json's text → a document whose every field has the right type (not yet opened). */
export function parseDocument(text: string): ParsedDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CoreError('invalid', `backup: ${DOCUMENT_FILE} is not valid JSON: ${(err as Error).message}`, 'backup');
  }
  const d = obj(raw, 'the document');
  if (d['format'] !== FORMAT_NAME) throw bad('format', `must be "${FORMAT_NAME}" (this is not a Coffer configuration backup)`);
  if (d['version'] !== FORMAT_VERSION) throw bad('version', `${JSON.stringify(d['version'])} is not supported (this Coffer reads version ${FORMAT_VERSION})`);
  return {
    authenticated: authenticatedData(d as unknown as ConfigurationDocument),
    format: FORMAT_NAME, version: FORMAT_VERSION,
    created_at: str(d['created_at'], 'created_at', 64), coffer_version: str(d['coffer_version'], 'coffer_version', 64),
    sealing: parseSealing(obj(d['sealing'], 'sealing')),
    configuration: parseReadable(obj(d['configuration'], 'configuration')),
    sealed: parseBlock(obj(d['sealed'], 'sealed')),
  };
}

function parseSealing(s: Obj): SealingHeader {
  if (s['cipher'] !== 'aes-256-gcm') throw bad('sealing.cipher', 'must be "aes-256-gcm"');
  if (s['method'] === 'server-secret') return { method: 'server-secret', cipher: 'aes-256-gcm' };
  if (s['method'] !== 'password') throw bad('sealing.method', 'must be "password" or "server-secret"');
  const k = obj(s['kdf'], 'sealing.kdf');
  if (k['name'] !== 'scrypt') throw bad('sealing.kdf.name', 'must be "scrypt"');
  const num = (key: string) => {
    const v = k[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(`sealing.kdf.${key}`, 'must be a positive whole number');
    return v;
  };
  return {
    method: 'password', cipher: 'aes-256-gcm', check: b64(s['check'], 'sealing.check'),
    kdf: { name: 'scrypt', salt: b64(k['salt'], 'sealing.kdf.salt'), N: num('N'), r: num('r'), p: num('p') },
  };
}

function parseBlock(b: Obj): SealedBlock {
  return { iv: b64(b['iv'], 'sealed.iv'), tag: b64(b['tag'], 'sealed.tag'), ciphertext: b64(b['ciphertext'], 'sealed.ciphertext') };
}

function parseReadable(c: Obj): ReadableConfiguration {
  const instances = arr(c['instances'], 'configuration.instances').map((v, i) => {
    const at = `configuration.instances[${i}]`;
    const o = obj(v, at);
    return {
      name: str(o['name'], `${at}.name`, 64), description: nstr(o['description'], `${at}.description`, 1024), repository: str(o['repository'], `${at}.repository`, 64),
      parts: arr(o['parts'], `${at}.parts`).map((p, j) => obj(p, `${at}.parts[${j}]`) as PartSpec), created_at: str(o['created_at'], `${at}.created_at`, 64),
    };
  });
  unique(instances, (r) => r.name, 'configuration.instances');
  const schedules = arr(c['schedules'], 'configuration.schedules').map((v, i): ScheduleEntry => {
    const at = `configuration.schedules[${i}]`;
    const s = obj(v, at);
    const keeps = Object.fromEntries(SCHEDULE_KEEPS.map((k) => [k, count(s[k], `${at}.${k}`, 100_000)])) as Record<(typeof SCHEDULE_KEEPS)[number], number | null>;
    return {
      instance: str(s['instance'], `${at}.instance`, 64), cron: str(s['cron'], `${at}.cron`, 256), timezone: nstr(s['timezone'], `${at}.timezone`, 64),
      type: oneOf(s['type'], BACKUP_TYPES, `${at}.type`), enabled: bool(s['enabled'], `${at}.enabled`),
      retention_days: count(s['retention_days'], `${at}.retention_days`, 36_500), ...keeps, label: nstr(s['label'], `${at}.label`, 64),
      ...(s['overdue_grace_seconds'] !== undefined ? { overdue_grace_seconds: count(s['overdue_grace_seconds'], `${at}.overdue_grace_seconds`, 31 * 86_400) } : {}),
    };
  });
  const notifications = c['notifications'] === undefined ? undefined : arr(c['notifications'], 'configuration.notifications').map((v, i): NotificationEntry => {
    const at = `configuration.notifications[${i}]`;
    const n = obj(v, at);
    return {
      name: str(n['name'], `${at}.name`, 64), kind: oneOf(n['kind'], NOTIFICATION_KINDS, `${at}.kind`),
      events: arr(n['events'], `${at}.events`).map((e, j) => oneOf(e, NOTIFICATION_EVENTS, `${at}.events[${j}]`)),
      instance: nstr(n['instance'], `${at}.instance`, 64), enabled: bool(n['enabled'], `${at}.enabled`), settings: obj(n['settings'], `${at}.settings`),
    };
  });
  if (notifications) unique(notifications, (n) => n.name, 'configuration.notifications');
  const s = obj(c['settings'], 'configuration.settings');
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) settings[str(k, 'configuration.settings key', 256)] = str(v, `configuration.settings.${k}`, 64 * 1024);
  return { ...parseAccountsAndLocations(c, 'configuration'), instances, schedules, settings, ...(notifications ? { notifications } : {}) };
}

function parseAccountsAndLocations(c: Obj, where: string): AccountsAndLocations {
  const repositories = arr(c['repositories'], `${where}.repositories`).map((v, i) => {
    const at = `${where}.repositories[${i}]`;
    const r = obj(v, at);
    return { name: str(r['name'], `${at}.name`, 64), location: str(r['location'], `${at}.location`), created_at: str(r['created_at'], `${at}.created_at`, 64) };
  });
  unique(repositories, (r) => r.name, `${where}.repositories`);
  const users = arr(c['users'], `${where}.users`).map((v, i) => {
    const at = `${where}.users[${i}]`;
    const u = obj(v, at);
    return { name: str(u['name'], `${at}.name`, 64), role: oneOf(u['role'], ROLES, `${at}.role`), has_password: bool(u['has_password'], `${at}.has_password`), created_at: str(u['created_at'], `${at}.created_at`, 64) };
  });
  unique(users, (u) => u.name, `${where}.users`);
  const apiKeys = arr(c['api_keys'], `${where}.api_keys`).map((v, i) => {
    const at = `${where}.api_keys[${i}]`;
    const k = obj(v, at);
    return { user: str(k['user'], `${at}.user`, 64), prefix: str(k['prefix'], `${at}.prefix`, 64), label: nstr(k['label'], `${at}.label`, 128), created_at: str(k['created_at'], `${at}.created_at`, 64) };
  });
  return { repositories, users, api_keys: apiKeys };
}

/**
 * The sealed block's plaintext → its values, checked against the readable part they belong to,
 * and the whole configuration: the readable part with the lists a device backup's copy seals put back.
 */
export function parseSensitive(text: string, readable: ReadableConfiguration): { configuration: ReadableConfiguration; sensitive: SensitiveValues } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('sealed', 'does not hold JSON');
  }
  const s = obj(raw, 'sealed values');
  let c = readable;
  if (s['configuration'] !== undefined) {
    for (const list of SEALED_LISTS) if (readable[list].length > 0) throw bad(`configuration.${list}`, 'must be empty when the sealed block holds it');
    c = { ...readable, ...parseAccountsAndLocations(obj(s['configuration'], 'sealed configuration'), 'sealed configuration') };
  }
  const secret = s['server_secret'] === null ? null : b64(s['server_secret'], 'sealed server_secret');
  if (secret !== null && Buffer.from(secret, 'base64').length < 32) throw bad('sealed server_secret', 'is shorter than 32 bytes');
  const passwords = obj(s['repository_passwords'], 'sealed repository_passwords');
  const repositoryPasswords: Record<string, string> = {};
  for (const r of c.repositories) {
    const p = passwords[r.name];
    if (typeof p !== 'string' || p === '') throw bad('sealed repository_passwords', `has no password for repository ${r.name}`);
    repositoryPasswords[r.name] = p;
  }
  const repositoryOptions: Record<string, Record<string, string>> = {};
  if (s['repository_options'] !== undefined) {
    const all = obj(s['repository_options'], 'sealed repository_options');
    for (const [name, o] of Object.entries(all)) {
      if (!c.repositories.some((r) => r.name === name)) throw bad('sealed repository_options', `names repository ${name}, which the file does not hold`);
      const options = obj(o, `sealed repository_options.${name}`);
      for (const [k, v] of Object.entries(options)) if (typeof v !== 'string') throw bad(`sealed repository_options.${name}.${k}`, 'must be a string');
      repositoryOptions[name] = options as Record<string, string>;
    }
  }
  const hashes = obj(s['password_hashes'], 'sealed password_hashes');
  const passwordHashes: Record<string, string> = {};
  for (const u of c.users.filter((u) => u.has_password)) {
    const h = hashes[u.name];
    if (typeof h !== 'string' || !h.startsWith('$argon2')) throw bad('sealed password_hashes', `has no argon2 password hash for user ${u.name}`);
    passwordHashes[u.name] = h;
  }
  const keyHashes = arr(s['api_key_hashes'], 'sealed api_key_hashes');
  if (keyHashes.length !== c.api_keys.length) throw bad('sealed api_key_hashes', `holds ${keyHashes.length} hashes for ${c.api_keys.length} API keys`);
  for (const [i, h] of keyHashes.entries()) if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw bad(`sealed api_key_hashes[${i}]`, 'must be a SHA-256 in hex');
  unique(keyHashes as string[], (h) => h, 'sealed api_key_hashes');
  const notificationSecrets: Record<string, { url?: string; password?: string }> = {};
  if (s['notification_secrets'] !== undefined) {
    for (const [name, v] of Object.entries(obj(s['notification_secrets'], 'sealed notification_secrets'))) {
      const o = obj(v, `sealed notification_secrets.${name}`);
      notificationSecrets[name] = {
        ...(o['url'] !== undefined ? { url: str(o['url'], `sealed notification_secrets.${name}.url`) } : {}),
        ...(o['password'] !== undefined ? { password: str(o['password'], `sealed notification_secrets.${name}.password`, 1024) } : {}),
      };
    }
  }
  const pingUrls: Record<string, string> = {};
  if (s['schedule_ping_urls'] !== undefined) {
    for (const [i, v] of Object.entries(obj(s['schedule_ping_urls'], 'sealed schedule_ping_urls'))) {
      if (!/^[0-9]+$/.test(i) || Number(i) >= c.schedules.length) throw bad('sealed schedule_ping_urls', `names schedule ${i}, which the file does not hold`);
      pingUrls[i] = str(v, `sealed schedule_ping_urls.${i}`);
    }
  }
  return {
    configuration: c,
    sensitive: {
      server_secret: secret, repository_passwords: repositoryPasswords, repository_options: repositoryOptions, password_hashes: passwordHashes, api_key_hashes: keyHashes as string[],
      notification_secrets: notificationSecrets, schedule_ping_urls: pingUrls,
    },
  };
}
