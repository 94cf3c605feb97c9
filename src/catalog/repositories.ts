import type { Kysely, Selectable } from 'kysely';
import { rethrowUnique } from './errors.js';
import type { Database, RepositoriesTable } from './schema.js';
import { type RepositoryRecord, nowIso } from './types.js';

function toRecord(r: Selectable<RepositoriesTable>): RepositoryRecord {
  return { id: r.id, name: r.name, location: r.location, passwordSealed: r.password_sealed, optionsSealed: r.options_sealed, createdAt: r.created_at };
}

export class RepositoryStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(r: { name: string; location: string; passwordSealed: string; optionsSealed?: string | null }): Promise<RepositoryRecord> {
    return toRecord(await rethrowUnique(this.db.insertInto('repositories')
      .values({ name: r.name, location: r.location, password_sealed: r.passwordSealed, options_sealed: r.optionsSealed ?? null, created_at: nowIso() })
      .returningAll().executeTakeFirstOrThrow()));
  }

  async byId(id: number): Promise<RepositoryRecord | undefined> {
    const r = await this.db.selectFrom('repositories').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRecord(r);
  }

  async byName(name: string): Promise<RepositoryRecord | undefined> {
    const r = await this.db.selectFrom('repositories').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toRecord(r);
  }

  async list(): Promise<RepositoryRecord[]> {
    return (await this.db.selectFrom('repositories').selectAll().orderBy('id').execute()).map(toRecord);
  }
}
