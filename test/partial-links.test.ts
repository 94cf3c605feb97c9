/**
 * A partial backup's items are read inside their part only: an item reached through a symbolic link
 * in a middle component (`elink/secret.txt` with `elink -> outside`) is refused, with 400 at request
 * time and again when the backup runs (the link may appear in between); an item that is itself a
 * link is recorded as the link, never followed. The secret outside the part is in no snapshot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../src/core/index.js';
import { RepoLock, type TreeNode } from '../src/repo/index.js';
import { type ApiUnderTest, startApi, writeTree } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';

const catalogs = await catalogsUnderTest();
const SECRET = 'root-only secret';

/** Every node of every snapshot in the instance's repository, with its path. */
async function everyNode(core: Core): Promise<{ path: string; node: TreeNode }[]> {
  const instance = await core.catalog.instances.byName('web');
  const repo = await core.repositories.open(instance!.repositoryId);
  await repo.loadIndex();
  const out: { path: string; node: TreeNode }[] = [];
  const walk = async (tree: string, at: string): Promise<void> => {
    const { nodes } = JSON.parse((await repo.loadBlob('tree', tree)).toString()) as { nodes: TreeNode[] };
    for (const n of nodes) {
      out.push({ path: `${at}/${n.name}`, node: n });
      if (n.type === 'dir' && n.subtree) await walk(n.subtree, `${at}/${n.name}`);
    }
  };
  for (const s of await repo.listSnapshots()) await walk(s.tree, '');
  return out;
}

describe.each(catalogs)('partial backup items and symlinks on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let www: string;
  let outside: string;

  const partial = (items: string[]) => api.call('POST', '/v1/instances/web/backups/partial/', { as: 'backup_operator', body: { query_args: { site: items } } });
  const done = async (id: number) => api.backupDone(`backup-${id}`);

  beforeAll(async () => {
    api = await startApi(cat);
    www = path.join(api.dir, 't', 'www');
    outside = path.join(api.dir, 't', 'outside');
    writeTree(www, { 'index.html': '<h1>hi</h1>', 'sub/page.html': 'page' });
    writeTree(outside, { 'secret.txt': SECRET });
    fs.chmodSync(path.join(outside, 'secret.txt'), 0o600);
    fs.symlinkSync(outside, path.join(www, 'elink'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(www, 'flink'));
    expect((await api.call('PUT', '/api/v1/instances/web', { body: { parts: [{ name: 'site', kind: 'directory', path: www }] } })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('refuses an item reached through a link in a middle component with 400, naming the link', async () => {
    const r = await partial(['elink/secret.txt']);
    expect(r.status, r.text).toBe(400);
    expect(r.text).toMatch(/elink is a symbolic link/);
    // Deeper too, and with other items beside it.
    expect((await partial(['sub/page.html', 'elink/x/y'])).status).toBe(400);
  });

  it('refuses it when the backup runs, if the link appeared after the request', async () => {
    // The repository held exclusively, so that the job cannot read before the link is there
    // (whether it meets the link at its start or in the walk, it must refuse).
    const lock = await RepoLock.acquire(await api.core.repositories.open(1), true);
    let released = false;
    const r = await partial(['later/secret.txt']);
    expect(r.status, r.text).toBe(201);
    fs.symlinkSync(outside, path.join(www, 'later'));
    try {
      await lock.release();
      released = true;
      const b = await done(r.body.id);
      expect(b.status).toBe('error');
      expect(b.status_info).toMatch(/later is a symbolic link/);
      expect(b.snapshot_id).toBeNull();
    } finally {
      if (!released) await lock.release();
      fs.rmSync(path.join(www, 'later'));
    }
  });

  it('backs up an item that is itself a link as the link, not what it points to', async () => {
    const r = await partial(['flink', 'sub/page.html']);
    expect(r.status, r.text).toBe(201);
    const b = await done(r.body.id);
    expect(b.status, b.status_info).toBe('success');
    const nodes = await everyNode(api.core);
    const link = nodes.find((n) => n.path === path.join(www, 'flink'));
    expect(link?.node).toMatchObject({ type: 'symlink', linktarget: path.join(outside, 'secret.txt') });
  });

  it('the secret is in no snapshot', async () => {
    const nodes = await everyNode(api.core);
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes.filter((n) => n.node.name === 'secret.txt')).toEqual([]);
  });
});
