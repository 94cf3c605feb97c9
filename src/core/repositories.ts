/** The repositories the server writes to: created, opened with their sealed passwords, listed without secrets. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { type Catalog, type RepositoryRecord, UniqueViolation } from '../catalog/index.js';
import { RepoError, RepoNotFoundError, Repository, WrongPasswordError, removeLocks } from '../repo/index.js';
import { openBackend, parseLocation } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import { CoreError, conflict, invalid, notFound } from './errors.js';
import { type Actor, requirePermission } from './permissions.js';
import type { ServerSecret } from './secrets.js';

export interface RepositoryView {
  id: number;
  name: string;
  location: string;
  created_at: string;
}

export class RepositoryService {
  constructor(private readonly catalog: Catalog, private readonly secret: ServerSecret, private readonly audit: AuditLog) {}

  /** The data directory's default repository: created with a generated password on first start. */
  async ensureDefault(location: string): Promise<RepositoryRecord> {
    const existing = await this.catalog.repositories.byName('default');
    if (existing) return existing;
    const password = randomBytes(32).toString('base64url');
    if (fs.existsSync(location) && fs.readdirSync(location).length > 0) {
      throw new Error(`${location} is not empty but the catalog knows no default repository; move it away or give the catalog that belongs to it`);
    }
    await Repository.init(openBackend(location), password);
    return this.catalog.repositories.create({ name: 'default', location, passwordSealed: this.secret.seal(password) });
  }

  async open(id: number): Promise<Repository> {
    const rec = await this.catalog.repositories.byId(id);
    if (!rec) throw notFound(`repository ${id}`);
    return Repository.open(openBackend(rec.location), this.secret.open(rec.passwordSealed));
  }

  /** Removes locks left by processes that died (kill -9, power loss): restic's stale-lock rule. */
  async clearStaleLocks(onError: (name: string, err: unknown) => void): Promise<void> {
    for (const rec of await this.catalog.repositories.list()) {
      try {
        const repo = await Repository.open(openBackend(rec.location), this.secret.open(rec.passwordSealed));
        await removeLocks(repo, false);
      } catch (err) {
        onError(rec.name, err);
      }
    }
  }

  async list(actor: Actor): Promise<RepositoryView[]> {
    requirePermission(actor, 'repository.read');
    return (await this.catalog.repositories.list()).map(view);
  }

  async byName(name: string): Promise<RepositoryRecord> {
    const r = await this.catalog.repositories.byName(name);
    if (!r) throw notFound(`repository ${name}`);
    return r;
  }

  /** Registers a repository: opens it with `password` when it exists, or initialises it (with a generated password when none is given). */
  async create(actor: Actor, o: { name: unknown; location: unknown; password?: unknown }): Promise<RepositoryView> {
    requirePermission(actor, 'repository.write');
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(o.name)) throw invalid('name', 'must be 1 to 64 letters, digits or _.-');
    if (typeof o.location !== 'string' || o.location.length === 0) throw invalid('location', 'must be a repository location');
    if (o.password !== undefined && (typeof o.password !== 'string' || o.password.length === 0)) throw invalid('password', 'must be a non-empty string');
    try {
      parseLocation(o.location);
    } catch (err) {
      throw invalid('location', (err as Error).message);
    }
    const password = (o.password as string | undefined) ?? randomBytes(32).toString('base64url');
    const backend = openBackend(o.location);
    try {
      if (o.password !== undefined) {
        try {
          await Repository.open(backend, password);
        } catch (err) {
          if (!(err instanceof RepoNotFoundError)) throw err;
          await Repository.init(backend, password);
        }
      } else {
        await Repository.init(backend, password);
      }
    } catch (err) {
      if (err instanceof RepoError) throw new CoreError(err instanceof WrongPasswordError ? 'invalid' : 'conflict', `repository at ${o.location}: ${err.message}`, 'location');
      throw new CoreError('unavailable', `repository at ${o.location}: ${(err as Error).message}`);
    }
    try {
      const rec = await this.catalog.repositories.create({ name: o.name, location: o.location, passwordSealed: this.secret.seal(password) });
      await this.audit.record(actor, 'repository.create', `repository:${o.name}`, { location: o.location });
      return view(rec);
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`repository ${o.name} already exists`);
      throw err;
    }
  }
}

function view(r: RepositoryRecord): RepositoryView {
  return { id: r.id, name: r.name, location: r.location, created_at: r.createdAt };
}
