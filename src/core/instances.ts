/** Instances: named things to back up, each with parts and a default repository. */
import { type Catalog, type Instance, UniqueViolation } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { conflict, invalid, notFound } from './errors.js';
import { NAME_PATTERN } from './names.js';
import { type Part, partsOf, validateParts } from './parts.js';
import { type Actor, requirePermission } from './permissions.js';

export const BUILTIN_INSTANCE = 'device';
export const MAX_INSTANCE_DESCRIPTION = 1024;
const NAME_RE = new RegExp(NAME_PATTERN);

export interface InstanceView {
  name: string;
  description: string | null;
  parts: Part[];
  repository: string;
  created_at: string;
  updated_at: string;
}

export class InstanceService {
  constructor(private readonly catalog: Catalog, private readonly audit: AuditLog) {}

  async view(i: Instance): Promise<InstanceView> {
    const repo = await this.catalog.repositories.byId(i.repositoryId);
    return { name: i.name, description: i.description, parts: partsOf(i.parts), repository: repo?.name ?? String(i.repositoryId), created_at: i.createdAt, updated_at: i.updatedAt };
  }

  /** The instance record, for other services (no permission check: they did theirs). */
  async require(name: string): Promise<Instance> {
    const i = await this.catalog.instances.byName(name);
    if (!i) throw notFound(`instance ${name}`);
    return i;
  }

  async get(actor: Actor, name: string): Promise<InstanceView> {
    requirePermission(actor, 'instance.read');
    return this.view(await this.require(name));
  }

  async list(actor: Actor): Promise<InstanceView[]> {
    requirePermission(actor, 'instance.read');
    return Promise.all((await this.catalog.instances.list()).map((i) => this.view(i)));
  }

  async create(actor: Actor, body: Record<string, unknown>): Promise<InstanceView> {
    requirePermission(actor, 'instance.write');
    if (typeof body['name'] !== 'string' || !NAME_RE.test(body['name'])) throw invalid('name', 'must be 1 to 64 letters, digits or _.- starting with a letter or digit');
    const input = await this.input(body['name'], body);
    try {
      const i = await this.catalog.instances.create(input);
      await this.audit.record(actor, 'instance.create', `instance:${i.name}`, { parts: i.parts.length });
      return this.view(i);
    } catch (err) {
      if (err instanceof UniqueViolation) throw conflict(`instance ${body['name']} already exists`);
      throw err;
    }
  }

  /** PUT: creates the instance or replaces its description, parts and repository. */
  async put(actor: Actor, name: string, body: Record<string, unknown>): Promise<{ created: boolean; instance: InstanceView }> {
    requirePermission(actor, 'instance.write');
    if (!NAME_RE.test(name)) throw invalid('name', 'must be 1 to 64 letters, digits or _.- starting with a letter or digit');
    if (body['name'] !== undefined && body['name'] !== name) throw invalid('name', 'does not match the name in the path');
    const existing = await this.catalog.instances.byName(name);
    if (!existing) return { created: true, instance: await this.create(actor, { ...body, name }) };
    const i = await this.catalog.instances.replace(existing.id, await this.input(name, body));
    await this.audit.record(actor, 'instance.update', `instance:${name}`, { parts: i.parts.length });
    return { created: false, instance: await this.view(i) };
  }

  async remove(actor: Actor, name: string): Promise<void> {
    requirePermission(actor, 'instance.write');
    const i = await this.require(name);
    if (name === BUILTIN_INSTANCE) throw conflict(`the built-in instance ${BUILTIN_INSTANCE} cannot be deleted`);
    const n = await this.catalog.backups.countForInstance(i.id);
    if (n > 0) throw conflict(`instance ${name} still has ${n} backups; delete them first`);
    if ((await this.catalog.jobs.active({ instanceId: i.id })).length > 0) throw conflict(`instance ${name} has jobs running`);
    await this.catalog.instances.remove(i.id);
    await this.audit.record(actor, 'instance.delete', `instance:${name}`);
  }

  private async input(name: string, body: Record<string, unknown>) {
    const description = body['description'] ?? null;
    if (description !== null && (typeof description !== 'string' || description.length > MAX_INSTANCE_DESCRIPTION)) throw invalid('description', `must be a string of at most ${MAX_INSTANCE_DESCRIPTION} characters`);
    const parts = validateParts(body['parts'] ?? []);
    let repositoryId: number;
    if (body['repository'] === undefined || body['repository'] === null) {
      const def = await this.catalog.repositories.byName('default');
      if (!def) throw invalid('repository', 'no default repository exists; name one');
      repositoryId = def.id;
    } else {
      if (typeof body['repository'] !== 'string') throw invalid('repository', 'must be the name of a repository');
      const r = await this.catalog.repositories.byName(body['repository']);
      if (!r) throw invalid('repository', `no repository named ${body['repository']}`);
      repositoryId = r.id;
    }
    return { name, description: description as string | null, parts, repositoryId };
  }
}
