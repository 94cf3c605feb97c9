import type { Kysely, Selectable } from 'kysely';
import { rethrowUnique } from './errors.js';
import type { ApiKeysTable, Database, UsersTable } from './schema.js';
import { type ApiKey, type Role, type User, nowIso } from './types.js';

function toUser(r: Selectable<UsersTable>): User {
  return { id: r.id, name: r.name, role: r.role as Role, passwordHash: r.password_hash, createdAt: r.created_at };
}
function toKey(r: Selectable<ApiKeysTable>): ApiKey {
  return { id: r.id, userId: r.user_id, prefix: r.prefix, label: r.label, createdAt: r.created_at, lastUsedAt: r.last_used_at };
}

export class UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(u: { name: string; role: Role; passwordHash: string | null }): Promise<User> {
    const row = await rethrowUnique(this.db.insertInto('users')
      .values({ name: u.name, role: u.role, password_hash: u.passwordHash, created_at: nowIso() })
      .returningAll().executeTakeFirstOrThrow());
    return toUser(row);
  }

  async byName(name: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toUser(r);
  }

  async byId(id: number): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toUser(r);
  }

  async list(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async countAdmins(): Promise<number> {
    const r = await this.db.selectFrom('users').where('role', '=', 'admin').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async update(id: number, patch: { role?: Role; passwordHash?: string | null }): Promise<void> {
    const set: { role?: string; password_hash?: string | null } = {};
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
    if (Object.keys(set).length) await this.db.updateTable('users').set(set).where('id', '=', id).execute();
  }

  async remove(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async addKey(k: { userId: number; prefix: string; keyHash: string; label: string | null }): Promise<ApiKey> {
    const row = await rethrowUnique(this.db.insertInto('api_keys')
      .values({ user_id: k.userId, prefix: k.prefix, key_hash: k.keyHash, label: k.label, created_at: nowIso(), last_used_at: null })
      .returningAll().executeTakeFirstOrThrow());
    return toKey(row);
  }

  async keys(userId: number): Promise<ApiKey[]> {
    return (await this.db.selectFrom('api_keys').selectAll().where('user_id', '=', userId).orderBy('id').execute()).map(toKey);
  }

  async removeKey(userId: number, keyId: number): Promise<boolean> {
    const r = await this.db.deleteFrom('api_keys').where('user_id', '=', userId).where('id', '=', keyId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** The user owning the key with this hash (one query: this runs on every API-key request). */
  async byKeyHash(keyHash: string): Promise<{ user: User; key: ApiKey } | undefined> {
    const r = await this.db.selectFrom('api_keys').innerJoin('users', 'users.id', 'api_keys.user_id')
      .selectAll('api_keys')
      .select(['users.name as user_name', 'users.role as user_role', 'users.password_hash as user_password_hash', 'users.created_at as user_created_at'])
      .where('api_keys.key_hash', '=', keyHash).executeTakeFirst();
    if (!r) return undefined;
    return {
      user: toUser({ id: r.user_id, name: r.user_name, role: r.user_role, password_hash: r.user_password_hash, created_at: r.user_created_at }),
      key: toKey(r),
    };
  }

  async touchKey(keyId: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: nowIso() }).where('id', '=', keyId).execute();
  }
}
