import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Small key/value settings (the bootstrap marker, limits changed at run time). */
export class SettingsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.insertInto('settings').values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
}
