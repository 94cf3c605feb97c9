/**
 * `POST /api/v1/repositories` takes only locations the storage registry knows and that mean the
 * same whatever the server's working directory: absolute paths, `local:/abs`, `s3:`, `azure:`.
 * A relative name or an unknown scheme is refused with 400 before anything is created.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiUnderTest, startApi } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('repository locations on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  const create = (name: string, location: string) => api.call('POST', '/api/v1/repositories', { body: { name, location } });
  const names = async () => (await api.call('GET', '/api/v1/repositories')).body.map((r: { name: string }) => r.name);

  beforeAll(async () => {
    api = await startApi(cat);
  });
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it.each([
    ['ftp://x/y', /location: unknown repository scheme ftp: expected an absolute path/, 'ftp:'],
    ['relrepo-dir', /location: "relrepo-dir" is a relative path/, 'relrepo-dir'],
    ['local:relrepo', /location: "local:relrepo" is a relative path/, 'relrepo'],
    ['./here', /is a relative path/, 'here'],
  ])('refuses %s with 400, creating nothing', async (location, message, leftover) => {
    const r = await create('bad', location);
    expect(r.status, r.text).toBe(400);
    expect(r.body.message).toMatch(message);
    expect(fs.existsSync(path.resolve(leftover))).toBe(false);
    expect(await names()).toEqual(['default']);
  });

  it('accepts an absolute path and local:/abs', async () => {
    expect((await create('abs', path.join(api.dir, 'abs-repo'))).status).toBe(201);
    expect((await create('prefixed', `local:${path.join(api.dir, 'prefixed-repo')}`)).status).toBe(201);
    expect(fs.existsSync(path.join(api.dir, 'prefixed-repo', 'config'))).toBe(true);
  });

  it('a location the file system refuses for good (a file where a directory must be) is 400, not 503', async () => {
    const file = path.join(api.dir, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const r = await create('onafile', file);
    expect(r.status, r.text).toBe(400);
    expect(r.body.message).toMatch(/^cannot use .*a-file: /);
    expect(fs.readFileSync(file, 'utf8')).toBe('not a directory');
    expect(await names()).not.toContain('onafile');
  });

  it('names an existing repository once in its conflict message', async () => {
    const location = path.join(api.dir, 'taken-repo');
    expect((await create('taken', location)).status).toBe(201);
    const r = await create('again', location);
    expect(r.status).toBe(409);
    expect(r.body.message).toBe(`cannot use ${location}: repository at ${location} already exists`);
    expect(r.body.message.match(/repository at/g)).toHaveLength(1);
  });

  it('a name already taken is 409 before the new location is touched', async () => {
    expect((await create('named', path.join(api.dir, 'named-repo'))).status).toBe(201);
    const elsewhere = path.join(api.dir, 'not-made');
    const r = await create('named', elsewhere);
    expect(r.status, r.text).toBe(409);
    expect(r.body.message).toBe('repository named already exists');
    expect(fs.existsSync(elsewhere)).toBe(false);
  });
});
