/** Users, API keys and sign-in: who a request comes from, and whether they may do what they ask. */
import { createHash, randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { type ApiKey, type Catalog, ROLES, type Role, UniqueViolation, type User } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { CoreError, conflict, invalid, notFound } from './errors.js';
import { USER_NAME_PATTERN } from './names.js';
import { type Actor, requirePermission } from './permissions.js';
import { FailureAudit, Throttle } from './throttle.js';

const KEY_PREFIX = 'cfr_';
const NAME_RE = new RegExp(USER_NAME_PATTERN);
/** Successful password checks are remembered this long, so Basic auth costs one argon2 per client, not one per request. */
const VERIFIED_TTL_MS = 5 * 60_000;
/**
 * How long an API key's owner and role are remembered. A key deleted (or a user removed) through
 * this process stops working at once; other processes sharing the catalog notice within this time.
 */
const KEY_CACHE_MS = 5_000;

export interface NewKey {
  id: number;
  key: string;
  prefix: string;
  label: string | null;
  createdAt: string;
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** API keys one user may hold: enough for every machine, few enough that one account cannot fill the catalog. */
export const MAX_KEYS_PER_USER = 100;
export const MIN_USER_PASSWORD = 8;
export const MAX_USER_PASSWORD = 1024;
/** Shortest COFFER_ADMIN_PASSWORD accepted: the admin's password guards everything. */
export const MIN_BOOTSTRAP_PASSWORD = 12;
/** A key as Coffer makes them: `cfr_` and 43 base64url characters (256 bits); a given one needs at least 32 (192 bits). */
const BOOTSTRAP_KEY_RE = /^cfr_[A-Za-z0-9_-]{32,}$/;

/**
 * The admin credentials given to a first start or a factory reset (COFFER_ADMIN_PASSWORD,
 * COFFER_ADMIN_API_KEY). They skip createUser's rules, so they get their own: a weak password
 * or a key that could be guessed, or one that never works (no `cfr_`), is refused.
 */
export function checkBootstrapCredentials(o: { password?: string | undefined; apiKey?: string | undefined }): void {
  if (o.password !== undefined && o.password.length < MIN_BOOTSTRAP_PASSWORD) {
    throw new CoreError('invalid', `COFFER_ADMIN_PASSWORD: must be at least ${MIN_BOOTSTRAP_PASSWORD} characters`, 'COFFER_ADMIN_PASSWORD');
  }
  if (o.apiKey !== undefined && !BOOTSTRAP_KEY_RE.test(o.apiKey)) {
    throw new CoreError('invalid', 'COFFER_ADMIN_API_KEY: must be cfr_ followed by at least 32 base64url characters (A-Z a-z 0-9 - _)', 'COFFER_ADMIN_API_KEY');
  }
}

export type PasswordVerifier = (hash: string, password: string) => Promise<boolean>;

const argon2Verifier: PasswordVerifier = async (hash, password) => {
  try {
    return await argon2Verify(hash, password);
  } catch {
    return false;
  }
};

/**
 * What a password is checked against when the user does not exist or has none: a hash made with
 * the same parameters as real ones, so that the answer takes as long either way and its timing
 * does not tell which user names exist. Made once, on first need.
 */
let dummyHash: Promise<string> | undefined;
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= argon2Hash(randomBytes(24).toString('base64url'));
  return dummyHash;
}

export interface AuthOptions {
  /** The argon2 check (a seam for tests that count how often it runs). */
  verifyPassword?: PasswordVerifier;
}

export class AuthService {
  /** Failed API keys per client address. A key that exists is never refused by it. */
  private readonly keyFailures = new Throttle();
  /** Failed passwords per (address, user name). */
  private readonly passwordFailures = new Throttle();
  /** Failed passwords per user name across addresses: a guesser rotating addresses meets this cap. */
  private readonly userFailures = new Throttle({ freeFailures: 30 });
  private readonly failureAudit = new FailureAudit();
  private readonly verified = new Map<string, number>();
  private readonly touched = new Map<number, number>();
  /** Keys seen recently: a lookup per request is most of a small request's cost. Cleared here on every change to users or keys. */
  private readonly keyCache = new Map<string, { actor: Actor; until: number }>();
  private readonly verifyPassword: PasswordVerifier;

  constructor(private readonly catalog: Catalog, private readonly audit: AuditLog, o: AuthOptions = {}) {
    this.verifyPassword = o.verifyPassword ?? argon2Verifier;
  }

  static hashPassword(password: string): Promise<string> {
    return argon2Hash(password);
  }

  static newApiKey(): { key: string; prefix: string; hash: string } {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    return { key, prefix: key.slice(0, KEY_PREFIX.length + 6), hash: sha256Hex(key) };
  }

  /**
   * The key is looked up first: a key that exists signs in whatever its address did before
   * (keys are 256 random bits, nobody guesses one), so failures of others behind the same
   * address (a reverse proxy) never lock out a valid key. Only failures are counted and throttled.
   */
  async byApiKey(key: string, ip: string): Promise<Actor> {
    const hash = sha256Hex(key);
    const cached = this.keyCache.get(hash);
    if (cached && cached.until > Date.now()) return { ...cached.actor, ip };
    const found = key.startsWith(KEY_PREFIX) ? await this.catalog.users.byKeyHash(hash) : undefined;
    if (!found) {
      const throttled = `ip:${ip}`;
      this.checkThrottle(this.keyFailures, throttled);
      this.keyFailures.fail(throttled);
      await this.recordFailure({ name: '-', role: 'viewer', ip }, 'api_key');
      throw new CoreError('unauthorized', 'invalid API key');
    }
    // The time of last use is informational: written at most once a minute per key, never awaited,
    // so that reads stay reads (a write per request costs a WAL commit on PostgreSQL).
    const now = Date.now();
    if ((this.touched.get(found.key.id) ?? 0) < now - 60_000) {
      this.touched.set(found.key.id, now);
      void this.catalog.users.touchKey(found.key.id).catch(() => {});
    }
    if (this.keyCache.size > 10_000) this.keyCache.clear();
    this.keyCache.set(hash, { actor: { name: found.user.name, role: found.user.role }, until: now + KEY_CACHE_MS });
    return { name: found.user.name, role: found.user.role, ip };
  }

  /**
   * Basic authentication, throttled per (address, user name) and per user name across addresses.
   * A user who does not exist, or has no password, costs one argon2 check like any other.
   */
  async byPassword(name: string, password: string, ip: string): Promise<Actor> {
    const here = `${ip}\0${name}`;
    this.checkThrottle(this.passwordFailures, here);
    this.checkThrottle(this.userFailures, name);
    const user = await this.catalog.users.byName(name);
    if (await this.passwordMatches(user?.passwordHash ?? null, password) && user) {
      this.passwordFailures.succeed(here);
      return { name: user.name, role: user.role, ip };
    }
    this.passwordFailures.fail(here);
    this.userFailures.fail(name);
    await this.recordFailure({ name: name.slice(0, 64), role: 'viewer', ip }, 'password');
    throw new CoreError('unauthorized', 'invalid user name or password');
  }

  private async passwordMatches(passwordHash: string | null, password: string): Promise<boolean> {
    if (passwordHash === null) {
      await this.verifyPassword(await dummyPasswordHash(), password);
      return false;
    }
    const memo = sha256Hex(`${passwordHash}\0${password}`);
    const until = this.verified.get(memo);
    if (until !== undefined && until > Date.now()) return true;
    const ok = await this.verifyPassword(passwordHash, password);
    if (ok) {
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(memo, Date.now() + VERIFIED_TTL_MS);
    }
    return ok;
  }

  /** A failed sign-in in the audit log, unless failures already arrive faster than the log should grow. */
  private async recordFailure(who: Actor, method: 'api_key' | 'password'): Promise<void> {
    const suppressed = this.failureAudit.admit();
    if (suppressed === null) return;
    await this.audit.record(who, 'auth.failure', who.name === '-' ? undefined : `user:${who.name}`, { method, ...(suppressed > 0 ? { not_logged_before: suppressed } : {}) });
  }

  /** After any change to users or keys. */
  forgetCachedCredentials(): void {
    this.keyCache.clear();
    this.verified.clear();
  }

  private checkThrottle(throttle: Throttle, key: string): void {
    const wait = throttle.retryAfter(key);
    if (wait > 0) throw new CoreError('too_many_attempts', `too many failed sign-in attempts; try again in ${wait} s`, undefined, { retryAfterSeconds: wait });
  }

  // --- users -------------------------------------------------------------------------------

  async createUser(actor: Actor, u: { name: unknown; role: unknown; password?: unknown }): Promise<User> {
    requirePermission(actor, 'user.write');
    const name = validName(u.name);
    const role = validRole(u.role);
    if (u.password !== undefined && u.password !== null) checkUserPassword(u.password);
    const passwordHash = typeof u.password === 'string' ? await AuthService.hashPassword(u.password) : null;
    try {
      const user = await this.catalog.users.create({ name, role, passwordHash });
      await this.audit.record(actor, 'user.create', `user:${name}`, { role });
      return user;
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`user ${name} already exists`);
      throw err;
    }
  }

  async listUsers(actor: Actor): Promise<User[]> {
    requirePermission(actor, 'user.read');
    return this.catalog.users.list();
  }

  async getUser(actor: Actor, name: string): Promise<User> {
    requirePermission(actor, 'user.read');
    const u = await this.catalog.users.byName(name);
    if (!u) throw notFound(`user ${name}`);
    return u;
  }

  async deleteUser(actor: Actor, name: string): Promise<void> {
    requirePermission(actor, 'user.write');
    const u = await this.catalog.users.byName(name);
    if (!u) throw notFound(`user ${name}`);
    if (u.role === 'admin' && (await this.catalog.users.countAdmins()) <= 1) throw conflict('the last admin cannot be deleted');
    await this.catalog.users.remove(u.id);
    this.forgetCachedCredentials();
    await this.audit.record(actor, 'user.delete', `user:${name}`);
  }

  /** A new API key for a user, returned once. Admins make keys for anyone; every user for themselves. */
  async createKey(actor: Actor, userName: string, label?: unknown): Promise<NewKey> {
    if (actor.name !== userName) requirePermission(actor, 'user.write');
    if (label !== undefined && label !== null && (typeof label !== 'string' || label.length > 128)) throw invalid('label', 'must be a string of at most 128 characters');
    const u = await this.catalog.users.byName(userName);
    if (!u) throw notFound(`user ${userName}`);
    if ((await this.catalog.users.keys(u.id)).length >= MAX_KEYS_PER_USER) throw conflict(`user ${userName} has ${MAX_KEYS_PER_USER} API keys, the most one user may have; delete one first`);
    const k = AuthService.newApiKey();
    const rec = await this.catalog.users.addKey({ userId: u.id, prefix: k.prefix, keyHash: k.hash, label: typeof label === 'string' ? label : null });
    await this.audit.record(actor, 'apikey.create', `user:${userName}`, { key_id: rec.id, prefix: k.prefix });
    return { id: rec.id, key: k.key, prefix: k.prefix, label: rec.label, createdAt: rec.createdAt };
  }

  async listKeys(actor: Actor, userName: string): Promise<ApiKey[]> {
    if (actor.name !== userName) requirePermission(actor, 'user.read');
    const u = await this.catalog.users.byName(userName);
    if (!u) throw notFound(`user ${userName}`);
    return this.catalog.users.keys(u.id);
  }

  async deleteKey(actor: Actor, userName: string, keyId: number): Promise<void> {
    if (actor.name !== userName) requirePermission(actor, 'user.write');
    const u = await this.catalog.users.byName(userName);
    if (!u) throw notFound(`user ${userName}`);
    if (!(await this.catalog.users.removeKey(u.id, keyId))) throw notFound(`API key ${keyId} of user ${userName}`);
    this.forgetCachedCredentials();
    await this.audit.record(actor, 'apikey.delete', `user:${userName}`, { key_id: keyId });
  }

  /**
   * Sets a user's password (the way back in when it is lost): the given one, under the same rules
   * as a new user's, or a generated one. The old password stops working at once in every process
   * sharing the catalog: a remembered check is keyed by the stored hash, which changed.
   */
  async resetPassword(actor: Actor, userName: string, password?: string): Promise<{ password: string; generated: boolean }> {
    requirePermission(actor, 'user.write');
    if (password !== undefined) checkUserPassword(password);
    const u = await this.catalog.users.byName(userName);
    if (!u) throw notFound(`user ${userName}`);
    const next = password ?? generatedPassword();
    await this.catalog.users.update(u.id, { passwordHash: await AuthService.hashPassword(next) });
    this.forgetCachedCredentials();
    await this.audit.record(actor, 'user.password_reset', `user:${userName}`, { generated: password === undefined });
    return { password: next, generated: password === undefined };
  }

  /** First start: the admin user with the given or generated password and API key. */
  async bootstrapAdmin(password: string, apiKey: string): Promise<void> {
    const user = await this.catalog.users.create({ name: 'admin', role: 'admin', passwordHash: await AuthService.hashPassword(password) });
    await this.catalog.users.addKey({ userId: user.id, prefix: apiKey.slice(0, KEY_PREFIX.length + 6), keyHash: sha256Hex(apiKey), label: 'bootstrap' });
  }
}

/** A user's password, wherever it is set (API, CLI): the rules are these and only these. */
export function checkUserPassword(v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length < MIN_USER_PASSWORD || v.length > MAX_USER_PASSWORD) {
    throw invalid('password', `must be a string of ${MIN_USER_PASSWORD} to ${MAX_USER_PASSWORD} characters`);
  }
}

/** A password Coffer makes up: 144 random bits. */
export function generatedPassword(): string {
  return randomBytes(18).toString('base64url');
}

function validName(v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw invalid('name', 'must be 1 to 64 letters, digits or _.@- starting with a letter or digit');
  return v;
}

function validRole(v: unknown): Role {
  if (typeof v !== 'string' || !(ROLES as readonly string[]).includes(v)) throw invalid('role', `must be one of ${ROLES.join(', ')}`);
  return v as Role;
}

