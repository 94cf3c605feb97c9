/**
 * The Syncano dialect (docs/dialects.md) end to end, on SQLite and PostgreSQL: the requests of Syncano's documentation
 * replayed (full backup, partial backup with its stray `room` field, OPTIONS), every status word
 * that can be reached, the signed archive link (downloads without a key, `unzip -t` passes, holds
 * exactly the selection; refused once deleted, altered or expired), full restores (exact) and
 * partial restores (merge), one restore per instance, the 26th backup of an account, paging,
 * and the errors in Syncano's bodies. One run goes through a real `coffer serve` over HTTP.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/core/index.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { manifest, pseudoRandom, tempDir } from './helpers.js';
import { ADMIN_KEY, client, startServer, until } from './server-process.js';

const catalogs = await catalogsUnderTest();

/** Syncano's fields, with Coffer's `uploaded` (made from an uploaded backup file). */
const FULL_FIELDS = ['id', 'instance', 'created_at', 'updated_at', 'size', 'status', 'status_info', 'description', 'label', 'uploaded', 'links'];
const PARTIAL_FIELDS = ['id', 'instance', 'created_at', 'updated_at', 'archive', 'size', 'status', 'status_info', 'description', 'label', 'uploaded', 'query_args', 'links'];
const SYNCANO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Syncano's documentation's OPTIONS document with this instance's parts (`class`, `user`) as query_args' properties. */
function expectedMetadata(parts: string[]) {
  const ro = (type: string, label: string) => ({ type, required: false, read_only: true, label });
  return {
    name: 'Partial Backup List', description: '', renders: ['application/json', null, 'text/html'], parses: ['application/json', 'application/x-www-form-urlencoded'],
    actions: {
      POST: {
        id: ro('integer', 'ID'), instance: ro('field', 'Instance'), created_at: ro('datetime', 'Created at'), updated_at: ro('datetime', 'Updated at'),
        archive: ro('file upload', 'Archive'), size: ro('integer', 'Size'), status: ro('choice', 'Status'), status_info: ro('string', 'Status info'),
        description: { type: 'string', required: false, read_only: false, label: 'Description', max_length: 256 },
        label: { type: 'string', required: false, read_only: false, label: 'Label', max_length: 64 },
        query_args: {
          type: 'field', required: true, read_only: false, label: 'Query args',
          schema: {
            additionalProperties: false, type: 'object',
            properties: Object.fromEntries(parts.map((p) => [p, { anyOf: [{ type: 'null' }, { items: { type: 'string' }, type: 'array' }] }])),
          },
        },
        links: { links: [{ type: 'detail', name: 'self' }] },
      },
    },
  };
}

const unzip = (args: string[]) => execFileSync('unzip', args, { encoding: 'utf8' });

describe.each(catalogs)('Syncano dialect on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let shop: string;
  /** Syncano's documentation's partial backup, once it succeeded. */
  let seedPartial: { id: number; archive: string; size: number; links: { self: string } };
  const parts = (root: string) => [{ name: 'class', kind: 'directory', path: path.join(root, 'class') }, { name: 'user', kind: 'directory', path: path.join(root, 'user') }];
  const makeInstance = async (name: string, root: string) => {
    const r = await api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: parts(root) } });
    expect(r.status).toBe(201);
  };
  /** Polls a backup's links.self until it has ended; returns every status seen on the way. */
  const backupDone = async (self: string) => {
    const seen = new Set<string>();
    const b = await until(`backup ${self}`, async () => {
      // An operator: the archive link is a download, which viewers do not get.
      const r = await api.call('GET', self, { as: 'backup_operator' });
      expect(r.status).toBe(200);
      seen.add(r.body.status);
      return ['success', 'error'].includes(r.body.status) ? r.body : undefined;
    }, 60_000, 5);
    return { b, seen };
  };
  const restoreDone = (self: string) => until(`restore ${self}`, async () => {
    const r = await api.call('GET', self, { as: 'viewer' });
    expect(r.status).toBe(200);
    return ['success', 'error'].includes(r.body.status) ? r.body : undefined;
  }, 60_000, 20);

  beforeAll(async () => {
    api = await startApi(cat);
    shop = path.join(api.dir, 'shop');
    writeTree(shop, {
      'class/user_profile/schema.json': '{"fields":["name"]}', 'class/user_profile/rows/1.json': '{"name":"ann"}',
      'class/orders/schema.json': '{"fields":["total"]}', 'user/ann.json': '{"email":"ann@example.com"}', 'user/bob.json': '{"email":"bob@example.com"}',
    });
    await makeInstance('shop', shop);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('the seed\'s full backup request: 201 scheduled with the seed\'s fields, then success with its size; listed per instance and across instances', async () => {
    const r = await api.call('POST', '/v1/instances/shop/backups/full/', { body: { label: 'backup label', description: 'backup description' } });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body)).toEqual(FULL_FIELDS);
    expect(r.body).toMatchObject({ instance: 'shop', size: null, status: 'scheduled', status_info: '', description: 'backup description', label: 'backup label', links: { self: `/v1/backups/full/${r.body.id}/` } });
    expect(r.body.created_at).toMatch(SYNCANO_TIME);
    expect(r.body.updated_at).toMatch(SYNCANO_TIME);
    const { b } = await backupDone(r.body.links.self);
    expect(b.status).toBe('success');
    expect(b.size).toBeGreaterThan(0);

    const mine = await api.call('GET', '/v1/instances/shop/backups/full/', { as: 'viewer' });
    expect(mine.status).toBe(200);
    expect(Object.keys(mine.body)).toEqual(['objects', 'prev', 'next']);
    expect(mine.body.objects.map((o: { id: number }) => o.id)).toContain(r.body.id);
    // The seed names the list across instances without its trailing slash; both work.
    for (const url of ['/v1/backups/full/', '/v1/backups/full']) {
      const all = await api.call('GET', url, { as: 'viewer' });
      expect(all.status).toBe(200);
      expect(all.body.objects.find((o: { id: number }) => o.id === r.body.id)).toEqual(b);
      expect(all.body.prev).toBeNull();
    }
    // A full backup is not at a partial backup's path.
    expect((await api.call('GET', `/v1/backups/partial/${r.body.id}/`)).status).toBe(404);
    expect((await api.call('GET', `/v1/backups/full/${r.body.id}`)).body).toEqual(b);
  });

  it('OPTIONS on the partial endpoint: the seed\'s document, query_args.schema made of the instance\'s parts', async () => {
    const r = await api.call('OPTIONS', '/v1/instances/shop/backups/partial/', { as: 'viewer' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expectedMetadata(['class', 'user']));
    const full = await api.call('OPTIONS', '/v1/instances/shop/backups/full/', { as: 'viewer' });
    expect(full.body.name).toBe('Full Backup List');
    expect(Object.keys(full.body.actions.POST)).not.toContain('query_args');
    expect((await api.call('OPTIONS', '/v1/instances/nonesuch/backups/partial/')).body).toEqual({ detail: 'instance nonesuch not found' });
  });

  it('the seed\'s partial backup request (its stray `room` field ignored): only the selection, the parts it does not name whole', async () => {
    const r = await api.call('POST', '/v1/instances/shop/backups/partial/', {
      body: { label: 'backup label', room: 'backup descriptio', query_args: { class: ['user_profile'] } },
    });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body)).toEqual(PARTIAL_FIELDS);
    expect(r.body).toMatchObject({
      instance: 'shop', archive: null, size: null, status: 'scheduled', status_info: '', description: '', label: 'backup label',
      query_args: { class: ['user_profile'] }, links: { self: `/v1/backups/partial/${r.body.id}/` },
    });
    const { b } = await backupDone(r.body.links.self);
    expect(b.status).toBe('success');
    expect(b.size).toBeGreaterThan(0);
    expect(b.archive).toMatch(/^http:\/\/[^/]+\/v1\/archives\/\d+\.\d+\.(-|[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]{43}\/backup\.zip$/);
    seedPartial = b;
    const partials = await api.call('GET', '/v1/backups/partial/');
    expect(partials.body.objects.map((o: { id: number }) => o.id)).toEqual([r.body.id]);

    // A form post, as Syncano's own tests made them: query_args as JSON text. `user: []` takes nothing of `user`.
    const form = await api.call('POST', '/v1/instances/shop/backups/partial/', {
      payload: new URLSearchParams({ query_args: '{"class": null, "user": []}', description: 'form' }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(201);
    expect(form.body.query_args).toEqual({ class: null, user: [] });
    expect((await backupDone(form.body.links.self)).b.status).toBe('success');
  });

  it('the archive link downloads the ZIP without a key (unzip -t passes, exactly the selection), and is refused once altered, expired or deleted', async () => {
    const work = tempDir('coffer-syncano-zip-');
    try {
      const url = new URL(seedPartial.archive).pathname;
      const r = await api.app.inject({ method: 'GET', url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('application/zip');
      expect(Number(r.headers['content-length'])).toBe(seedPartial.size);
      const zip = path.join(work, 'backup.zip');
      fs.writeFileSync(zip, r.rawPayload);
      expect(r.rawPayload.length).toBe(seedPartial.size);
      expect(unzip(['-t', zip])).toMatch(/No errors detected/);
      const files = unzip(['-Z1', zip]).split('\n').filter((n) => n && !n.endsWith('/') && n !== 'manifest.json');
      const selected = ['class/user_profile/schema.json', 'class/user_profile/rows/1.json', 'user/ann.json', 'user/bob.json'];
      expect(files).toHaveLength(selected.length);
      for (const f of selected) {
        const entry = files.find((n) => n.endsWith(`shop/${f}`));
        expect(entry, f).toBeDefined();
        expect(unzip(['-p', zip, entry!])).toBe(fs.readFileSync(path.join(shop, f), 'utf8'));
      }
      // class/orders is in the part query_args narrowed: not in the archive.
      expect(files.some((n) => n.includes('orders'))).toBe(false);
      // A fresh link on every read; each works.
      const again = (await api.call('GET', seedPartial.links.self)).body.archive;
      expect((await api.app.inject({ method: 'HEAD', url: new URL(again).pathname })).statusCode).toBe(200);

      const token = url.split('/')[3]!;
      const [id, expires, issuer, mac] = token.split('.') as [string, string, string, string];
      const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
      const refusedUrls = [
        `/v1/archives/${id}.${expires}.${issuer}.${flipped}/backup.zip`, // altered signature
        `/v1/archives/${id}.${Number(expires) + 3600}.${issuer}.${mac}/backup.zip`, // lengthened life
        `/v1/archives/${Number(id) + 1}.${expires}.${issuer}.${mac}/backup.zip`, // another backup
        `/v1/archives/${id}.${expires}.-.${mac}/backup.zip`, // another issuer
        '/v1/archives/not-a-token/backup.zip',
      ];
      const backup = await api.core.backups.get({ name: 'test', role: 'viewer' }, seedPartial.id);
      const expired = api.core.archiveLinks.issue(SYSTEM_ACTOR, backup, { now: Date.now() - 2 * 24 * 3600 * 1000 })!;
      refusedUrls.push(`/v1/archives/${expired.token}/backup.zip`);
      for (const u of refusedUrls) {
        const refused = await api.app.inject({ method: 'GET', url: u });
        expect(refused.statusCode, u).toBe(404);
        expect(JSON.parse(refused.body), u).toEqual({ detail: 'this archive link is not valid (expired, altered, or its backup was deleted)' });
      }
      // A link issued just now with a short life works until it ends.
      const short = api.core.archiveLinks.issue(SYSTEM_ACTOR, backup, { ttlSeconds: 60 })!;
      expect((await api.app.inject({ method: 'GET', url: `/v1/archives/${short.token}/backup.zip` })).statusCode).toBe(200);

      expect((await api.call('DELETE', seedPartial.links.self)).status).toBe(204);
      const gone = await api.app.inject({ method: 'GET', url });
      expect(gone.statusCode).toBe(404);
      expect(JSON.parse(gone.body)).toHaveProperty('detail');
      expect((await api.call('GET', seedPartial.links.self)).status).toBe(404);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('an archive link dies with its issuer: once the user it was handed to is deleted, it is refused', async () => {
    expect((await api.call('POST', '/api/v1/users', { body: { name: 'linker', role: 'backup_operator', password: 'linker-password-123' } })).status).toBe(201);
    const key = (await api.call('POST', '/api/v1/users/linker/keys', { body: { label: 't' } })).body.key as string;
    const made = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: ['user_profile'] } } });
    expect((await backupDone(made.body.links.self)).b.status).toBe('success');
    const link = (await api.app.inject({ method: 'GET', url: made.body.links.self, headers: { 'x-api-key': key } })).json().archive as string;
    const url = new URL(link).pathname;
    expect((await api.app.inject({ method: 'HEAD', url })).statusCode).toBe(200);
    expect((await api.call('DELETE', '/api/v1/users/linker')).status).toBe(204);
    const refused = await api.app.inject({ method: 'GET', url });
    expect(refused.statusCode).toBe(404);
    expect(JSON.parse(refused.body)).toEqual({ detail: 'this archive link is not valid (expired, altered, or its backup was deleted)' });
  });

  it('status words: scheduled and running while queued and working, success, error with its status_info', async () => {
    const big = path.join(api.dir, 'big');
    writeTree(big, { 'class/blob.bin': pseudoRandom(48 * 1024 * 1024, 7), 'user/x': 'x' });
    await makeInstance('big', big);
    const first = await api.call('POST', '/v1/instances/big/backups/full/', {});
    // The runner takes one job at a time here, so the second waits `scheduled` behind the first.
    const second = await api.call('POST', '/v1/instances/shop/backups/full/', {});
    expect(first.body.status).toBe('scheduled');
    const queued = await api.call('GET', second.body.links.self);
    const one = await backupDone(first.body.links.self);
    expect(queued.body.status).toBe('scheduled');
    expect(one.seen).toContain('running');
    expect(one.b.status).toBe('success');
    expect((await backupDone(second.body.links.self)).b.status).toBe('success');

    const broken = path.join(api.dir, 'broken');
    await makeInstance('broken', broken);
    const failed = await api.call('POST', '/v1/instances/broken/backups/full/', { body: { label: 'nothing there' } });
    const { b } = await backupDone(failed.body.links.self);
    expect(b).toMatchObject({ status: 'error', size: null, label: 'nothing there' });
    expect(b.status_info.length).toBeGreaterThan(0);
    fs.rmSync(big, { recursive: true, force: true });
  });

  it('full restore: erases what was added, puts back what changed or went, exactly; into another instance too', async () => {
    const r = await api.call('POST', '/v1/instances/shop/backups/full/', {});
    expect((await backupDone(r.body.links.self)).b.status).toBe('success');
    const before = manifest(shop);
    fs.writeFileSync(path.join(shop, 'class/added.json'), 'new');
    fs.writeFileSync(path.join(shop, 'user/ann.json'), 'changed');
    fs.rmSync(path.join(shop, 'user/bob.json'));

    const restore = await api.call('POST', '/v1/instances/shop/restores/', { body: { backup: r.body.id } });
    expect(restore.status).toBe(201);
    expect(Object.keys(restore.body)).toEqual(['id', 'backup', 'created_at', 'updated_at', 'status', 'archive', 'status_info', 'links']);
    expect(restore.body).toMatchObject({ backup: r.body.id, status: 'scheduled', archive: null, status_info: '', links: { self: `/v1/instances/shop/restores/${restore.body.id}/` } });
    expect((await restoreDone(restore.body.links.self)).status).toBe('success');
    expect(manifest(shop)).toEqual(before);

    const copy = path.join(api.dir, 'copy');
    writeTree(copy, { 'class/stale.json': 'old', 'user/ann.json': 'other' });
    await makeInstance('copy', copy);
    const into = await api.call('POST', '/v1/instances/copy/restores/', { body: { backup: r.body.id } });
    expect(into.status).toBe(201);
    expect((await restoreDone(into.body.links.self)).status).toBe('success');
    expect(manifest(copy)).toEqual(before);
    const listed = await api.call('GET', '/v1/instances/copy/restores/', { as: 'viewer' });
    expect(listed.body).toEqual({ objects: [await restoreDone(into.body.links.self)], prev: null, next: null });
  });

  it('partial restore: puts back only what the backup holds and leaves every other file alone', async () => {
    const p = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: ['user_profile'], user: ['ann.json'] } } });
    expect((await backupDone(p.body.links.self)).b.status).toBe('success');
    const profile = fs.readFileSync(path.join(shop, 'class/user_profile/rows/1.json'), 'utf8');
    fs.writeFileSync(path.join(shop, 'class/user_profile/rows/1.json'), 'changed');
    fs.writeFileSync(path.join(shop, 'class/orders/schema.json'), 'changed too');
    fs.writeFileSync(path.join(shop, 'user/bob.json'), 'bob changed');
    fs.writeFileSync(path.join(shop, 'class/user_profile/rows/2.json'), 'added');

    const restore = await api.call('POST', '/v1/instances/shop/restores/', { body: { backup: p.body.id } });
    expect(restore.status).toBe(201);
    expect((await restoreDone(restore.body.links.self)).status).toBe('success');
    expect(fs.readFileSync(path.join(shop, 'class/user_profile/rows/1.json'), 'utf8')).toBe(profile);
    // Not in the backup: untouched (merge), even the file added inside a restored directory.
    expect(fs.readFileSync(path.join(shop, 'class/orders/schema.json'), 'utf8')).toBe('changed too');
    expect(fs.readFileSync(path.join(shop, 'user/bob.json'), 'utf8')).toBe('bob changed');
    expect(fs.readFileSync(path.join(shop, 'class/user_profile/rows/2.json'), 'utf8')).toBe('added');
    fs.writeFileSync(path.join(shop, 'class/orders/schema.json'), '{"fields":["total"]}');
    fs.writeFileSync(path.join(shop, 'user/bob.json'), '{"email":"bob@example.com"}');
    fs.rmSync(path.join(shop, 'class/user_profile/rows/2.json'));
  });

  it('two restores of one instance at once: exactly one 201, the other 409 with a detail; a failed restore is `error`', async () => {
    const r = await api.call('POST', '/v1/instances/shop/backups/full/', {});
    expect((await backupDone(r.body.links.self)).b.status).toBe('success');
    const twin = path.join(api.dir, 'twin');
    await makeInstance('twin', twin);
    const both = await Promise.all([0, 1].map(() => api.call('POST', '/v1/instances/twin/restores/', { body: { backup: r.body.id } })));
    expect(both.map((x) => x.status).sort()).toEqual([201, 409]);
    const refused = both.find((x) => x.status === 409)!;
    expect(Object.keys(refused.body)).toEqual(['detail']);
    expect(refused.body.detail).toMatch(/restore of this instance is already in progress/);
    expect((await restoreDone(both.find((x) => x.status === 201)!.body.links.self)).status).toBe('success');

    // An instance without the backup's parts: nothing can be restored there.
    const other = path.join(api.dir, 'other');
    expect((await api.call('PUT', '/api/v1/instances/other', { body: { parts: [{ name: 'elsewhere', kind: 'directory', path: other }] } })).status).toBe(201);
    const failing = await api.call('POST', '/v1/instances/other/restores/', { body: { backup: r.body.id } });
    expect(failing.status).toBe(201);
    const failed = await restoreDone(failing.body.links.self);
    expect(failed.status).toBe('error');
    expect(failed.status_info).toMatch(/no part named/);
  });

  it('pages: page_size, next and prev paths with direction and last_pk, ordering desc', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api.call('POST', '/v1/instances/broken/backups/full/', { body: { label: `page ${i}` } });
      ids.push(r.body.id);
    }
    const all = (await api.call('GET', '/v1/instances/broken/backups/full/')).body.objects.map((o: { id: number }) => o.id);
    expect(all).toEqual([...all].sort((a: number, b: number) => a - b));
    const walked: number[] = [];
    let url: string | null = '/v1/instances/broken/backups/full/?page_size=2';
    const pages: { objects: { id: number }[]; prev: string | null; next: string | null }[] = [];
    while (url) {
      const page: Awaited<ReturnType<ApiUnderTest['call']>> = await api.call('GET', url);
      expect(page.status).toBe(200);
      pages.push(page.body);
      walked.push(...page.body.objects.map((o: { id: number }) => o.id));
      url = page.body.next;
    }
    expect(walked).toEqual(all);
    expect(pages[0]!.prev).toBeNull();
    expect(pages[1]!.next).toBe(`/v1/instances/broken/backups/full/?page_size=2&direction=1&last_pk=${all[3]}`);
    expect(pages.at(-1)!.next).toBeNull();
    // prev of the second page is the first page again.
    const back = await api.call('GET', pages[1]!.prev!);
    expect(back.body.objects).toEqual(pages[0]!.objects);
    const desc = await api.call('GET', '/v1/instances/broken/backups/full/?ordering=desc&page_size=3');
    expect(desc.body.objects.map((o: { id: number }) => o.id)).toEqual([...all].reverse().slice(0, 3));
    const descNext = await api.call('GET', desc.body.next);
    expect(descNext.body.objects.map((o: { id: number }) => o.id)).toEqual([...all].reverse().slice(3, 6));
    expect((await api.call('GET', '/v1/backups/full/?page_size=x')).body).toEqual({ detail: 'Incorrect page parameter provided.' });
    expect((await api.call('GET', '/v1/backups/full/?direction=2')).status).toBe(400);
    for (const id of ids) await backupDone(`/v1/backups/full/${id}/`);
    for (const id of ids) expect((await api.call('DELETE', `/v1/backups/full/${id}/`)).status).toBe(204);
  });

  it('validation errors are {"field": ["message"]} with 400; a body that is not JSON is a detail', async () => {
    const long = await api.call('POST', '/v1/instances/shop/backups/full/', { body: { description: 'x'.repeat(257) } });
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ description: ['Ensure this field has no more than 256 characters.'] });
    const label = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { label: 'x'.repeat(65), query_args: { class: null } } });
    expect(label.body).toEqual({ label: ['Ensure this field has no more than 64 characters.'] });
    const part = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { klass: ['abc'] } } });
    expect(part.status).toBe(400);
    expect(Object.keys(part.body)).toEqual(['query_args']);
    expect(part.body.query_args[0]).toMatch(/klass.*not a part of this instance \(parts: class, user\)/);
    const escape = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: ['../user'] } } });
    expect(escape.body.query_args[0]).toMatch(/relative paths/);
    expect((await api.call('POST', '/v1/instances/shop/backups/partial/', { body: {} })).body).toEqual({ query_args: ['This field is required.'] });
    // A part query_args does not name is backed up whole, so {} filters nothing, and empty lists for every part select nothing.
    expect((await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: {} } })).body.query_args[0]).toMatch(/filters no part/);
    expect((await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: [], user: [] } } })).body.query_args[0]).toMatch(/selects nothing/);
    expect((await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: 'abc' } } })).body).toEqual({ query_args: ['class: Must be array or null.'] });
    expect((await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: 'not json' } })).body).toEqual({ query_args: ['is not valid JSON'] });
    const malformed = await api.call('POST', '/v1/instances/shop/backups/full/', { payload: '{"label": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(Object.keys(malformed.body)).toEqual(['detail']);
    expect(malformed.body.detail).toMatch(/^JSON parse error - /);
    expect((await api.call('POST', '/v1/instances/shop/restores/', { body: {} })).body).toEqual({ backup: ['This field is required.'] });
    expect((await api.call('POST', '/v1/instances/shop/restores/', { body: { backup: 999999 } })).body).toEqual({ backup: ['Invalid pk "999999" - object does not exist.'] });
  });

  it('auth: 401 detail without a key, the api_key query parameter works, 403 for a role that may not', async () => {
    const none = await api.call('GET', '/v1/backups/full/', { as: 'none' });
    expect(none.status).toBe(401);
    expect(Object.keys(none.body)).toEqual(['detail']);
    expect((await api.call('GET', '/v1/backups/full/?api_key=wrong', { as: 'none' })).status).toBe(401);
    expect((await api.call('GET', `/v1/backups/full/?api_key=${api.keys.viewer}`, { as: 'none' })).status).toBe(200);
    // Only Syncano's routes take the key in the query.
    expect((await api.call('GET', `/api/v1/backup/list?api_key=${api.keys.viewer}`, { as: 'none' })).status).toBe(401);
    const denied = await api.call('POST', '/v1/instances/shop/backups/full/', { as: 'viewer' });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toMatch(/viewer/);
  });

  it('404 with a detail: unknown instance, backup, restore and route', async () => {
    for (const [method, url] of [
      ['GET', '/v1/instances/nonesuch/backups/full/'], ['POST', '/v1/instances/nonesuch/backups/full/'], ['GET', '/v1/instances/nonesuch/restores/'],
      ['POST', '/v1/instances/nonesuch/restores/'], ['GET', '/v1/backups/full/999999/'], ['DELETE', '/v1/backups/partial/999999/'],
      ['GET', '/v1/backups/full/abc/'], ['GET', '/v1/instances/shop/restores/999999/'], ['GET', '/v1/nothing/here/'],
    ] as const) {
      const r = await api.call(method, url, method === 'POST' ? { body: { backup: 1 } } : {});
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(Object.keys(r.body), `${method} ${url}`).toEqual(['detail']);
    }
  });

  it('the 26th live backup of an account is refused with a detail (Syncano: 400); deleting one makes room', async () => {
    const ids: number[] = [];
    const mine = (await api.call('GET', '/api/v1/backup/list?limit=1000')).body.filter((b: { created_by: string; status: string }) => b.created_by === 'backup_operator' && b.status !== 'error');
    expect(mine).toEqual([]);
    for (let i = 0; i < 25; i++) {
      const r = await api.call('POST', '/v1/instances/shop/backups/full/', { as: 'backup_operator', body: { label: `quota ${i}` } });
      expect(r.status, `backup ${i + 1}`).toBe(201);
      ids.push(r.body.id);
    }
    const refused = await api.call('POST', '/v1/instances/shop/backups/full/', { as: 'backup_operator' });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ detail: 'account backup_operator already has the maximum of 25 backups; delete one first' });
    for (const id of ids) await backupDone(`/v1/backups/full/${id}/`);
    expect((await api.call('DELETE', `/v1/backups/full/${ids[0]}/`)).status).toBe(204);
    const next = await api.call('POST', '/v1/instances/shop/backups/full/', { as: 'backup_operator' });
    expect(next.status).toBe(201);
    await backupDone(next.body.links.self);
    for (const id of [...ids.slice(1), next.body.id]) expect((await api.call('DELETE', `/v1/backups/full/${id}/`)).status).toBe(204);
  }, 120_000);

  it('roles: viewers read, backup operators also create, admins also delete and restore; every documented route is covered', async () => {
    const made = await api.call('POST', '/v1/instances/shop/backups/full/', {});
    const part = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { user: null } } });
    for (const r of [made, part]) expect((await backupDone(r.body.links.self)).b.status).toBe('success');
    const doomed = await api.call('POST', '/v1/instances/shop/backups/full/', {});
    const doomedPart = await api.call('POST', '/v1/instances/shop/backups/partial/', { body: { query_args: { class: ['orders'] } } });
    for (const r of [doomed, doomedPart]) await backupDone(r.body.links.self);
    await makeInstance('roles', path.join(api.dir, 'roles'));
    const restore = await api.call('POST', '/v1/instances/roles/restores/', { body: { backup: made.body.id } });
    await restoreDone(restore.body.links.self);
    const ALL = { viewer: 200, backup_operator: 200, admin: 200 };
    type Row = [method: 'GET' | 'POST' | 'DELETE' | 'OPTIONS', route: string, url: string, ok: Partial<Record<'viewer' | 'backup_operator' | 'admin', number>>, body?: unknown];
    const rows: Row[] = [
      // The deletion first, before the matrix starts backups that hold the repository's lock.
      ['DELETE', '/v1/backups/full/{id}/', `/v1/backups/full/${doomed.body.id}/`, { admin: 204 }],
      ['DELETE', '/v1/backups/partial/{id}/', doomedPart.body.links.self, { admin: 204 }],
      ['GET', '/v1/backups/full/', '/v1/backups/full/', ALL],
      ['GET', '/v1/backups/partial/', '/v1/backups/partial/', ALL],
      ['GET', '/v1/backups/full/{id}/', `/v1/backups/full/${made.body.id}/`, ALL],
      ['GET', '/v1/backups/partial/{id}/', `/v1/backups/partial/${part.body.id}/`, ALL],
      ['GET', '/v1/instances/{instance}/backups/full/', '/v1/instances/shop/backups/full/', ALL],
      ['GET', '/v1/instances/{instance}/backups/partial/', '/v1/instances/shop/backups/partial/', ALL],
      ['OPTIONS', '/v1/instances/{instance}/backups/full/', '/v1/instances/shop/backups/full/', ALL],
      ['OPTIONS', '/v1/instances/{instance}/backups/partial/', '/v1/instances/shop/backups/partial/', ALL],
      ['GET', '/v1/instances/{instance}/restores/', '/v1/instances/roles/restores/', ALL],
      ['GET', '/v1/instances/{instance}/restores/{id}/', restore.body.links.self, ALL],
      ['POST', '/v1/instances/{instance}/backups/full/', '/v1/instances/roles/backups/full/', { backup_operator: 201, admin: 201 }],
      ['POST', '/v1/instances/{instance}/backups/partial/', '/v1/instances/roles/backups/partial/', { backup_operator: 201, admin: 201 }, { query_args: { user: null } }],
      ['POST', '/v1/instances/{instance}/restores/', '/v1/instances/roles/restores/', { admin: 201 }, { backup: made.body.id }],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [method, route, url, ok, body] of rows) {
      for (const who of ['none', 'viewer', 'backup_operator', 'admin'] as const) {
        const r = await api.call(method, url, { as: who, ...(body !== undefined ? { body } : {}) });
        got.push(`${method} ${route} as ${who}: ${r.status}`);
        want.push(`${method} ${route} as ${who}: ${who === 'none' ? 401 : ok[who] ?? 403}`);
        if (r.status >= 400) expect(Object.keys(r.body)).toEqual(['detail']);
      }
    }
    expect(got).toEqual(want);
    const doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body as { paths: Record<string, Record<string, unknown>> };
    // Documented without the trailing slash that Syncano's clients (and these rows) send.
    const documented = Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/') && !p.startsWith('/v1/archives/'))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}/`)).sort();
    expect([...new Set(rows.map(([method, route]) => `${method} ${route}`))].sort()).toEqual(documented);
    const last = (await api.call('GET', '/v1/instances/roles/restores/?ordering=desc&page_size=1')).body.objects[0];
    await restoreDone(last.links.self);
  });

  it('the routes are in the OpenAPI document once, without the trailing slash (the slashed twins hidden)', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json', { as: 'none' })).body;
    for (const p of ['/v1/instances/{instance}/backups/full', '/v1/instances/{instance}/backups/partial', '/v1/backups/full', '/v1/backups/partial/{id}', '/v1/instances/{instance}/restores']) {
      expect(doc.paths[p], p).toBeDefined();
      expect(doc.paths[`${p}/`], `${p}/`).toBeUndefined();
    }
    const partial = doc.paths['/v1/instances/{instance}/backups/partial'];
    expect(Object.keys(partial)).toEqual(expect.arrayContaining(['get', 'post', 'options']));
    // Form posts and the key in the query, as Syncano's clients send them.
    expect(Object.keys(partial.post.requestBody.content)).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(partial.get.security).toContainEqual({ apiKeyQuery: [] });
  });
});

describe('Syncano dialect over real HTTP (coffer serve)', () => {
  it('replays the seed\'s requests against a listening server', async () => {
    const dir = tempDir('coffer-syncano-e2e-');
    const server = await startServer(['--data-dir', path.join(dir, 'data')]);
    try {
      const call = client(server.url);
      const root = path.join(dir, 'inst');
      writeTree(root, { 'class/user_profile/a.json': 'a', 'class/other/b.json': 'b', 'user/u.json': 'u' });
      expect((await call('PUT', '/api/v1/instances/syncano', { parts: [{ name: 'class', kind: 'directory', path: path.join(root, 'class') }, { name: 'user', kind: 'directory', path: path.join(root, 'user') }] })).status).toBe(201);

      const full = await call('POST', '/v1/instances/syncano/backups/full/', { label: 'backup label', description: 'backup description' });
      expect(full.status).toBe(201);
      expect(full.body).toMatchObject({ instance: 'syncano', status: 'scheduled', size: null, links: { self: `/v1/backups/full/${full.body.id}/` } });
      const done = await until('full backup', async () => {
        const r = await call('GET', full.body.links.self);
        return r.body.status === 'success' ? r.body : undefined;
      });
      expect(done.size).toBeGreaterThan(0);

      const options = await call('OPTIONS', '/v1/instances/syncano/backups/partial/');
      expect(options.status).toBe(200);
      expect(Object.keys(options.body.actions.POST.query_args.schema.properties)).toEqual(['class', 'user']);

      const partial = await call('POST', '/v1/instances/syncano/backups/partial/', { label: 'backup label', room: 'backup descriptio', query_args: { class: ['user_profile'] } });
      expect(partial.status).toBe(201);
      expect(partial.body.archive).toBeNull();
      const ready = await until('partial backup', async () => {
        const r = await call('GET', partial.body.links.self);
        return r.body.status === 'success' ? r.body : undefined;
      });
      expect(new URL(ready.archive).origin).toBe(server.url);
      const download = await fetch(ready.archive);
      expect(download.status).toBe(200);
      const zip = path.join(dir, 'archive.zip');
      fs.writeFileSync(zip, Buffer.from(await download.arrayBuffer()));
      expect(fs.statSync(zip).size).toBe(ready.size);
      expect(execFileSync('unzip', ['-t', zip], { encoding: 'utf8' })).toMatch(/No errors detected/);

      fs.writeFileSync(path.join(root, 'user/added.json'), 'added');
      const restore = await call('POST', '/v1/instances/syncano/restores/', { backup: full.body.id });
      expect(restore.status).toBe(201);
      const restored = await until('restore', async () => {
        const r = await call('GET', restore.body.links.self);
        return ['success', 'error'].includes(r.body.status) ? r.body : undefined;
      });
      expect(restored.status).toBe('success');
      expect(fs.existsSync(path.join(root, 'user/added.json'))).toBe(false);

      const noKey = await fetch(`${server.url}/v1/backups/full/`);
      expect(noKey.status).toBe(401);
      expect(await noKey.json()).toEqual({ detail: expect.any(String) });
      expect((await call('GET', '/v1/backups/full', undefined, { 'x-api-key': ADMIN_KEY })).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
