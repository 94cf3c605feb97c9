import type { AuditEntry, Catalog, Page } from '../catalog/index.js';
import { type Actor, requirePermission } from './permissions.js';

/** The audit log: who did what to which thing, from where. Failures to write it are logged, never fatal to the action. */
export class AuditLog {
  constructor(private readonly catalog: Catalog, private readonly onError: (err: unknown) => void = () => {}) {}

  async record(actor: Actor, action: string, target?: string, detail?: Record<string, unknown>): Promise<void> {
    try {
      await this.catalog.audit.append({ actor: actor.name, action, target: target ?? null, detail: detail ?? null, ip: actor.ip ?? null });
    } catch (err) {
      this.onError(err);
    }
  }

  async list(actor: Actor, o: { limit: number; offset: number; actor?: string; action?: string }): Promise<Page<AuditEntry>> {
    requirePermission(actor, 'audit.read');
    return this.catalog.audit.list(o);
  }
}
