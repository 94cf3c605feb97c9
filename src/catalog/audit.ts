import type { Kysely } from 'kysely';
import { parseJson } from './json.js';
import type { Database } from './schema.js';
import { type AuditEntry, type Page, nowIso } from './types.js';

export class AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: { actor: string; action: string; target?: string | null; detail?: Record<string, unknown> | null; ip?: string | null }): Promise<void> {
    await this.db.insertInto('audit_log').values({
      at: nowIso(), actor: e.actor, action: e.action, target: e.target ?? null,
      detail: e.detail ? JSON.stringify(e.detail) : null, ip: e.ip ?? null,
    }).execute();
  }

  async list(o: { limit: number; offset: number; actor?: string; action?: string }): Promise<Page<AuditEntry>> {
    let q = this.db.selectFrom('audit_log');
    if (o.actor) q = q.where('actor', '=', o.actor);
    if (o.action) q = q.where('action', '=', o.action);
    const total = Number((await q.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const rows = await q.selectAll().orderBy('id', 'desc').limit(o.limit).offset(o.offset).execute();
    return {
      total,
      items: rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: parseJson(r.detail, null), ip: r.ip })),
    };
  }
}
