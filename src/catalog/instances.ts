import type { Kysely, Selectable } from 'kysely';
import { rethrowUnique } from './errors.js';
import { parseJson } from './json.js';
import type { Database, InstancesTable } from './schema.js';
import { type Instance, type PartSpec, nowIso } from './types.js';

function toInstance(r: Selectable<InstancesTable>): Instance {
  return {
    id: r.id, name: r.name, description: r.description, parts: parseJson<PartSpec[]>(r.parts, []),
    repositoryId: r.repository_id, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export interface InstanceInput {
  name: string;
  description: string | null;
  parts: PartSpec[];
  repositoryId: number;
}

export class InstanceStore {
  constructor(private readonly db: Kysely<Database>, private readonly rowLocks: boolean) {}

  async create(i: InstanceInput): Promise<Instance> {
    const now = nowIso();
    return toInstance(await rethrowUnique(this.db.insertInto('instances')
      .values({ name: i.name, description: i.description, parts: JSON.stringify(i.parts), repository_id: i.repositoryId, created_at: now, updated_at: now })
      .returningAll().executeTakeFirstOrThrow()));
  }

  async replace(id: number, i: InstanceInput): Promise<Instance> {
    return toInstance(await this.db.updateTable('instances')
      .set({ description: i.description, parts: JSON.stringify(i.parts), repository_id: i.repositoryId, updated_at: nowIso() })
      .where('id', '=', id).returningAll().executeTakeFirstOrThrow());
  }

  async byName(name: string): Promise<Instance | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toInstance(r);
  }

  async byId(id: number): Promise<Instance | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toInstance(r);
  }

  async list(): Promise<Instance[]> {
    return (await this.db.selectFrom('instances').selectAll().orderBy('name').execute()).map(toInstance);
  }

  /** Inside a transaction: holds the instance row until commit (PostgreSQL), so rules counted under it hold. SQLite has one writer already. */
  async lockForUpdate(id: number, tx: Kysely<Database>): Promise<void> {
    if (this.rowLocks) await tx.selectFrom('instances').select('id').where('id', '=', id).forUpdate().execute();
  }

  async remove(id: number): Promise<void> {
    await this.db.deleteFrom('instances').where('id', '=', id).execute();
  }
}
