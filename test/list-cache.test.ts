/**
 * The backup list's kept pages: a page comes back unchanged (the same object) while nothing was
 * committed, and every change (a new backup, a status change, a deletion, an instance removed)
 * shows at once — also when another process sharing the catalog made it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Core, SYSTEM_ACTOR } from '../src/core/index.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';

const catalogs = await catalogsUnderTest();
const Q = { limit: 10, offset: 0 };

describe.each(catalogs)('backup list pages on $name', (cat: CatalogUnderTest) => {
  let dir: string;
  let cores: Core[] = [];

  beforeAll(() => {
    dir = tempDir('coffer-list-cache-');
  });
  afterEach(async () => {
    for (const c of cores.splice(0)) await c.stop().catch(() => {});
    await cat.cleanup();
    fs.rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // No job runner (role api): backups stay `scheduled` until the test changes them.
  const start = async (location: string) => {
    const c = await Core.start({ dataDir: path.join(dir, 'data'), catalog: location, role: 'api', adminPassword: 'admin-password' });
    cores.push(c);
    return c;
  };

  it('keeps a page until the catalog changes, and sees every change', async () => {
    const core = await start(await cat.create(dir));
    await core.instances.put(SYSTEM_ACTOR, 'web', { parts: [{ name: 'site', kind: 'directory', path: dir }] });
    const first = await core.backups.list(SYSTEM_ACTOR, Q);
    expect(first.total).toBe(0);
    expect(await core.backups.list(SYSTEM_ACTOR, Q)).toBe(first);

    const { backup } = await core.backups.create(SYSTEM_ACTOR, { instance: 'web', type: 'full' });
    const afterCreate = await core.backups.list(SYSTEM_ACTOR, Q);
    expect(afterCreate.items.map((b) => b.id)).toEqual([backup.id]);
    expect(afterCreate.items[0]!.status).toBe('scheduled');
    expect(Object.isFrozen(afterCreate.items[0])).toBe(true);

    await core.catalog.backups.update(backup.id, { status: 'error', statusInfo: 'made up by the test' });
    const afterUpdate = await core.backups.list(SYSTEM_ACTOR, Q);
    expect(afterUpdate).not.toBe(afterCreate);
    expect(afterUpdate.items[0]!.status).toBe('error');
    // Filters are kept apart.
    expect((await core.backups.list(SYSTEM_ACTOR, { ...Q, status: 'scheduled' })).total).toBe(0);
    expect((await core.backups.list(SYSTEM_ACTOR, { ...Q, status: 'error' })).total).toBe(1);

    // Its job never ran (no runner here): out of the way first, as core refuses to delete a backup in use.
    await core.catalog.kysely.deleteFrom('jobs').execute();
    await core.catalog.backups.remove(backup.id);
    expect((await core.backups.list(SYSTEM_ACTOR, Q)).total).toBe(0);
    expect((await core.backups.list(SYSTEM_ACTOR, { ...Q, status: 'error' })).total).toBe(0);
  });

  it('sees what another process sharing the catalog committed', async () => {
    const location = await cat.create(dir);
    const a = await start(location);
    const b = await start(location);
    await a.instances.put(SYSTEM_ACTOR, 'web', { parts: [{ name: 'site', kind: 'directory', path: dir }] });
    expect((await a.backups.list(SYSTEM_ACTOR, { ...Q, instance: 'web' })).total).toBe(0);
    await b.backups.create(SYSTEM_ACTOR, { instance: 'web', type: 'full' });
    expect((await a.backups.list(SYSTEM_ACTOR, { ...Q, instance: 'web' })).total).toBe(1);
    await b.catalog.kysely.deleteFrom('jobs').execute();
    await b.catalog.kysely.deleteFrom('backups').execute();
    expect((await a.backups.list(SYSTEM_ACTOR, Q)).total).toBe(0);
  });

  it('keeps single backups the same way: the same object while nothing changed, every change seen, also from another process', async () => {
    const location = await cat.create(dir);
    const a = await start(location);
    const b = await start(location);
    await a.instances.put(SYSTEM_ACTOR, 'web', { parts: [{ name: 'site', kind: 'directory', path: dir }] });
    const { backup } = await a.backups.create(SYSTEM_ACTOR, { instance: 'web', type: 'full' });
    const first = await a.backups.get(SYSTEM_ACTOR, backup.id);
    expect(await a.backups.get(SYSTEM_ACTOR, backup.id)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Many at once share the counter's queries and still agree.
    const many = await Promise.all(Array.from({ length: 50 }, () => a.backups.get(SYSTEM_ACTOR, backup.id)));
    expect(many.every((x) => x === first)).toBe(true);

    await b.catalog.backups.update(backup.id, { status: 'error', statusInfo: 'set by the other process' });
    const changed = await a.backups.get(SYSTEM_ACTOR, backup.id);
    expect(changed.status).toBe('error');
    expect(changed.statusInfo).toBe('set by the other process');

    await b.catalog.kysely.deleteFrom('jobs').execute();
    await b.catalog.backups.remove(backup.id);
    await expect(a.backups.get(SYSTEM_ACTOR, backup.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe.each(catalogs)('GET /api/v1/backup/list on $name', (cat: CatalogUnderTest) => {
  it('sends a kept page as the same JSON with the same headers', async () => {
    const { startApi } = await import('./api-harness.js');
    const api = await startApi(cat, { role: 'api' });
    try {
      await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', kind: 'directory', path: api.dir }] } });
      await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full', label: 'one' } });
      const first = await api.call('GET', '/api/v1/backup/list?limit=5');
      const second = await api.call('GET', '/api/v1/backup/list?limit=5', { as: 'viewer' });
      expect(first.status).toBe(200);
      expect(second.text).toBe(first.text);
      expect(second.headers['x-total-count']).toBe('1');
      expect(second.headers['content-type']).toMatch(/^application\/json/);
      expect(second.body[0].label).toBe('one');
      await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full', label: 'two' } });
      const third = await api.call('GET', '/api/v1/backup/list?limit=5');
      expect(third.headers['x-total-count']).toBe('2');
      expect(third.body.map((b: { label: string }) => b.label)).toEqual(['two', 'one']);
      // One backup likewise: the same JSON while nothing changed, the change at once.
      const id = third.body[0].id as string;
      const one = await api.call('GET', `/api/v1/backup/${id}`);
      expect((await api.call('GET', `/api/v1/backup/${id}`, { as: 'viewer' })).text).toBe(one.text);
      expect(one.body.label).toBe('two');
      await api.core.catalog.backups.update(Number(id.slice('backup-'.length)), { status: 'error', statusInfo: 'changed' });
      expect((await api.call('GET', `/api/v1/backup/${id}`)).body.status).toBe('error');
    } finally {
      await api.close();
      await cat.cleanup();
    }
  });
});
