/** Users, API keys and sign-in: who a request comes from, and whether they may do what they ask. */
import { createHash, randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { type ApiKey, type Catalog, ROLES, type Role, UniqueViolation, type User } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { CoreError, conflict, invalid, notFound } from './errors.js';
import { type Actor, requirePermission } from './permissions.js';
import { Throttle } from './throttle.js';

const KEY_PREFIX = 'cfr_';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
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

export class AuthService {
  private readonly throttle = new Throttle();
  private readonly verified = new Map<string, number>();
  private readonly touched = new Map<number, number>();
  /** Keys seen recently: a lookup per request is most of a small request's cost. Cleared here on every change to users or keys. */
  private readonly keyCache = new Map<string, { actor: Actor; until: number }>();

  constructor(private readonly catalog: Catalog, private readonly audit: AuditLog) {}

  static hashPassword(password: string): Promise<string> {
    return argon2Hash(password);
  }

  static newApiKey(): { key: string; prefix: string; hash: string } {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    return { key, prefix: key.slice(0, KEY_PREFIX.length + 6), hash: sha256Hex(key) };
  }

  async byApiKey(key: string, ip: string): Promise<Actor> {
    this.checkThrottle(`ip:${ip}`);
    const hash = sha256Hex(key);
    const cached = this.keyCache.get(hash);
    if (cached && cached.until > Date.now()) return { ...cached.actor, ip };
    const found = key.startsWith(KEY_PREFIX) ? await this.catalog.users.byKeyHash(hash) : undefined;
    if (!found) {
      this.throttle.fail(`ip:${ip}`);
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

  async byPassword(name: string, password: string, ip: string): Promise<Actor> {
    const userKey = `user:${ip}:${name}`;
    this.checkThrottle(`ip:${ip}`);
    this.checkThrottle(userKey);
    const user = await this.catalog.users.byName(name);
    if (user?.passwordHash && (await this.passwordMatches(user, password))) {
      this.throttle.succeed(userKey);
      return { name: user.name, role: user.role, ip };
    }
    this.throttle.fail(userKey);
    this.throttle.fail(`ip:${ip}`);
    throw new CoreError('unauthorized', 'invalid user name or password');
  }

  private async passwordMatches(user: User, password: string): Promise<boolean> {
    const memo = sha256Hex(`${user.passwordHash}\0${password}`);
    const until = this.verified.get(memo);
    if (until !== undefined && until > Date.now()) return true;
    let ok = false;
    try {
      ok = await argon2Verify(user.passwordHash!, password);
    } catch {
      ok = false;
    }
    if (ok) {
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(memo, Date.now() + VERIFIED_TTL_MS);
    }
    return ok;
  }

  /** After any change to users or keys. */
  forgetCachedCredentials(): void {
    this.keyCache.clear();
    this.verified.clear();
  }

  private checkThrottle(key: string): void {
    const wait = this.throttle.retryAfter(key);
    if (wait > 0) throw new CoreError('too_many_attempts', `too many failed sign-in attempts; try again in ${wait} s`, undefined, { retryAfterSeconds: wait });
  }

  // --- users -------------------------------------------------------------------------------

  async createUser(actor: Actor, u: { name: unknown; role: unknown; password?: unknown }): Promise<User> {
    requirePermission(actor, 'user.write');
    const name = validName(u.name);
    const role = validRole(u.role);
    if (u.password !== undefined && u.password !== null && (typeof u.password !== 'string' || u.password.length < 8 || u.password.length > 1024)) {
      throw invalid('password', 'must be a string of 8 to 1024 characters');
    }
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

  /** First start: the admin user with the given or generated password and API key. */
  async bootstrapAdmin(password: string, apiKey: string): Promise<void> {
    const user = await this.catalog.users.create({ name: 'admin', role: 'admin', passwordHash: await AuthService.hashPassword(password) });
    await this.catalog.users.addKey({ userId: user.id, prefix: apiKey.slice(0, KEY_PREFIX.length + 6), keyHash: sha256Hex(apiKey), label: 'bootstrap' });
  }
}

function validName(v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw invalid('name', 'must be 1 to 64 letters, digits or _.@- starting with a letter or digit');
  return v;
}

function validRole(v: unknown): Role {
  if (typeof v !== 'string' || !(ROLES as readonly string[]).includes(v)) throw invalid('role', `must be one of ${ROLES.join(', ')}`);
  return v as Role;
}

