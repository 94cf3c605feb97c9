/** The repositories the server writes to: created, opened with their sealed passwords, listed without secrets. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Catalog, type RepositoryRecord, UniqueViolation } from '../catalog/index.js';
import { RepoError, RepoNotFoundError, Repository, WrongPasswordError, removeLocks } from '../repo/index.js';
import { type Backend, type BackendOptions, openBackend, parseLocation } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import { CoreError, conflict, invalid, notFound } from './errors.js';
import { type Actor, requirePermission } from './permissions.js';
import type { ServerSecret } from './secrets.js';


/** Errors of a local location that no retry will cure. */
const LOCATION_REFUSALS = new Set(['ENOTDIR', 'EEXIST', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG', 'ELOOP']);
export interface RepositoryView {
  id: number;
  name: string;
  location: string;
  /** Names of the backend options it has; their values (credentials) never leave the server. */
  option_keys: string[];
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
    return Repository.open(this.backendOf(rec), this.secret.open(rec.passwordSealed));
  }

  /** Removes locks left by processes that died (kill -9, power loss): restic's stale-lock rule. */
  async clearStaleLocks(onError: (name: string, err: unknown) => void): Promise<void> {
    for (const rec of await this.catalog.repositories.list()) {
      try {
        const repo = await Repository.open(this.backendOf(rec), this.secret.open(rec.passwordSealed));
        await removeLocks(repo, false);
      } catch (err) {
        onError(rec.name, err);
      }
    }
  }

  /** The record's backend, with its unsealed options; the process environment fills in what they lack, as for restic. */
  backendOf(rec: RepositoryRecord): Backend {
    return openBackend(rec.location, this.optionsOf(rec));
  }

  optionsOf(rec: RepositoryRecord): BackendOptions {
    return rec.optionsSealed ? (JSON.parse(this.secret.open(rec.optionsSealed)) as BackendOptions) : {};
  }

  async list(actor: Actor): Promise<RepositoryView[]> {
    requirePermission(actor, 'repository.read');
    return (await this.catalog.repositories.list()).map((r) => view(r, this.optionsOf(r)));
  }

  async byName(name: string): Promise<RepositoryRecord> {
    const r = await this.catalog.repositories.byName(name);
    if (!r) throw notFound(`repository ${name}`);
    return r;
  }

  /**
   * A repository's password, for opening it with restic around Coffer (the escape hatch when
   * Coffer cannot run). Every reading is audited.
   */
  async password(actor: Actor, name: string): Promise<string> {
    requirePermission(actor, 'repository.password');
    const rec = await this.byName(name);
    const password = this.secret.open(rec.passwordSealed);
    await this.audit.record(actor, 'repository.password_read', `repository:${name}`);
    return password;
  }

  /** Registers a repository: opens it with `password` when it exists, or initialises it (with a generated password when none is given). */
  async create(actor: Actor, o: { name: unknown; location: unknown; password?: unknown; options?: unknown }): Promise<RepositoryView> {
    requirePermission(actor, 'repository.write');
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(o.name)) throw invalid('name', 'must be 1 to 64 letters, digits or _.-');
    const location = validLocation(o.location);
    if (o.password !== undefined && (typeof o.password !== 'string' || o.password.length === 0)) throw invalid('password', 'must be a non-empty string');
    const options = validOptions(o.options);
    // A taken name is refused before the location is touched: a 409 must leave nothing behind.
    // (The catalog's unique name still decides a race between two requests.)
    if (await this.catalog.repositories.byName(o.name)) throw conflict(`repository ${o.name} already exists`);
    const password = (o.password as string | undefined) ?? randomBytes(32).toString('base64url');
    let backend: Backend;
    try {
      backend = openBackend(location, options);
    } catch (err) {
      throw invalid('location', (err as Error).message);
    }
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
      // The engine's message may name the resolved location itself: say which one was asked for only once.
      if (err instanceof RepoError) throw new CoreError(err instanceof WrongPasswordError ? 'invalid' : 'conflict', `cannot use ${location}: ${err.message}`, 'location');
      // A location the file system refuses for good (a file, no permission, read-only) is the request's fault; anything else may pass.
      const code = (err as NodeJS.ErrnoException).code ?? ((err as { cause?: NodeJS.ErrnoException }).cause)?.code;
      if (code !== undefined && LOCATION_REFUSALS.has(code)) throw new CoreError('invalid', `cannot use ${location}: ${(err as Error).message}`, 'location');
      throw new CoreError('unavailable', `cannot use ${location}: ${(err as Error).message}`, undefined, { retryAfterSeconds: 30 });
    }
    try {
      const rec = await this.catalog.repositories.create({ name: o.name, location, passwordSealed: this.secret.seal(password),
        optionsSealed: Object.keys(options).length ? this.secret.seal(JSON.stringify(options)) : null,
      });
      await this.audit.record(actor, 'repository.create', `repository:${o.name}`, { location, option_keys: Object.keys(options).sort() });
      return view(rec, options);
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`repository ${o.name} already exists`);
      throw err;
    }
  }
}

/**
 * A repository location the storage registry knows, meaning the same whatever the server's working
 * directory: an absolute path (or `local:/path`), or a scheme with a backend (`s3:`, `azure:`). A
 * relative path, or a scheme no backend has (`ftp://…`, which would otherwise be read as a relative
 * path), is refused before anything is created.
 */
function validLocation(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid('location', 'must be a repository location');
  if (v.includes('\0')) throw invalid('location', 'may not contain NUL');
  let scheme: string;
  try {
    scheme = parseLocation(v).scheme;
  } catch (err) {
    throw invalid('location', (err as Error).message);
  }
  if (scheme !== 'local') return v;
  if (path.isAbsolute(v.startsWith('local:') ? v.slice('local:'.length) : v)) return v;
  const named = v.startsWith('local:') ? undefined : /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(v)?.[1];
  const expected = 'an absolute path (or local:/path), s3:… or azure:…';
  if (named) throw invalid('location', `unknown repository scheme ${named}: expected ${expected}`);
  throw invalid('location', `${JSON.stringify(v)} is a relative path: expected ${expected}`);
}

/** Backend options as restic's `-o` names them: `provider.key` → string value. */
function validOptions(v: unknown): BackendOptions {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('options', 'must be an object of option name → string');
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (!/^[a-z0-9]+\.[a-z0-9.-]+$/.test(k)) throw invalid(`options.${k}`, 'is not an option name (provider.key, e.g. s3.region)');
    if (typeof value !== 'string' || value.length > 4096) throw invalid(`options.${k}`, 'must be a string of at most 4096 characters');
    out[k] = value;
  }
  return out;
}

function view(r: RepositoryRecord, options: BackendOptions): RepositoryView {
  return { id: r.id, name: r.name, location: r.location, option_keys: Object.keys(options).sort(), created_at: r.createdAt };
}
