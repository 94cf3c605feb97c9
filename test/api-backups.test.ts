/**
 * The native backup API end to end through `inject`, on SQLite and PostgreSQL: real backups of a
 * temporary tree, listing with filters and paging, restores into another instance (whole and
 * `paths`), one restore per instance when two arrive together, job events as SSE, cancel, delete.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { type ApiUnderTest, parseSse, startApi, writeTree } from './api-harness.js';
import { manifest } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

describe.each(catalogs)('native backup API on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let src: string;
  let full: string;

  const backupDone = (id: string) => api.backupDone(id);
  const restoreDone = (jobId: string) => api.restoreDone(jobId);
  const instance = async (name: string, dir: string) => {
    const r = await api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: [{ name: 'site', kind: 'directory', path: dir, exclude: ['*.tmp'] }] } });
    expect(r.status).toBe(201);
  };

  beforeAll(async () => {
    api = await startApi(cat);
    src = path.join(api.dir, 'web');
    writeTree(src, { 'index.html': '<h1>hi</h1>', 'img/logo.bin': randomBytes(200_000), 'sub/deep/a.txt': 'a', 'sub/b.txt': 'b', 'skip.tmp': 'x' });
    await instance('web', src);
    const created = await api.call('POST', '/api/v1/backup/create', { as: 'backup_operator', body: { instance: 'web', type: 'full', label: 'first', description: 'the first one' } });
    expect(created.status).toBe(201);
    full = created.body.backup_id;
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('creates a backup: 201 with backup_id and job_id, scheduled; it ends in success with the tree\'s counts', async () => {
    const b = await backupDone(full);
    expect(full).toMatch(/^backup-\d+$/);
    expect(b).toMatchObject({ id: full, instance: 'web', type: 'full', label: 'first', description: 'the first one', status: 'success', files: 4, created_by: 'backup_operator', parent_id: null, include_files: true });
    expect(b.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    expect(b.size).toBeGreaterThan(200_000);
    // The bare number works as well as the prefixed id.
    expect((await api.call('GET', `/api/v1/backup/${full.slice('backup-'.length)}`)).body.id).toBe(full);
  });

  it('defaults: no body backs up the built-in instance `device` incrementally', async () => {
    const r = await api.call('POST', '/api/v1/backup/create', { as: 'admin' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ instance: 'device', type: 'incremental', status: 'scheduled', include_files: true, include_database: true });
    expect(r.body.job_id).toMatch(/^job-\d+$/);
    // `device` has no parts of its own yet, but every device backup carries Coffer's configuration.
    const b = await backupDone(r.body.backup_id);
    expect(b.status).toBe('success');
    expect(b.files).toBeGreaterThanOrEqual(1);
  });

  it('a backup with nothing selected ends in error, with the reason', async () => {
    const r = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', include_files: false } });
    expect(r.status).toBe(201);
    const b = await backupDone(r.body.backup_id);
    expect(b.status).toBe('error');
    expect(b.status_info).toMatch(/nothing selected/);
  });

  it('lists with filters, paging and X-Total-Count', async () => {
    const inc = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'incremental' } });
    const b = await backupDone(inc.body.backup_id);
    expect(b.parent_id).toBe(full);

    const all = await api.call('GET', '/api/v1/backup/list?instance=web&status=success', { as: 'viewer' });
    expect(all.status).toBe(200);
    expect(all.headers['x-total-count']).toBe('2');
    expect(all.body.map((x: { id: string }) => x.id)).toEqual([inc.body.backup_id, full]);
    const fulls = await api.call('GET', '/api/v1/backup/list?instance=web&type=full&status=success');
    expect(fulls.body.map((x: { id: string }) => x.id)).toEqual([full]);
    const page = await api.call('GET', '/api/v1/backup/list?instance=web&status=success&limit=1&offset=1');
    expect(page.headers['x-total-count']).toBe('2');
    expect(page.body.map((x: { id: string }) => x.id)).toEqual([full]);
    const failed = await api.call('GET', '/api/v1/backup/list?status=error');
    expect(failed.body.map((x: { instance: string; status: string }) => `${x.instance} ${x.status}`)).toEqual(['web error']);
    expect((await api.call('GET', '/api/v1/backup/list?instance=nonesuch')).headers['x-total-count']).toBe('0');
    const everything = await api.call('GET', '/api/v1/backup/list');
    expect(Number(everything.headers['x-total-count'])).toBeGreaterThanOrEqual(3);
  });

  it('restores into another instance (whole), then only `paths` into a third', async () => {
    const staging = path.join(api.dir, 'staging');
    await instance('staging', staging);
    const r = await api.call('POST', `/api/v1/backup/restore/${full}`, { body: { target: 'staging' } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ backup_id: full, instance: 'staging', status: 'running' });
    const done = await restoreDone(r.body.job_id);
    expect(done.status).toBe('completed');
    expect(done.progress.files_done).toBe(4);
    expect(done.finished_at).not.toBeNull();
    const { ['skip.tmp']: _excluded, ...expected } = manifest(src);
    expect(manifest(staging)).toEqual(expected);

    const partial = path.join(api.dir, 'partial');
    await instance('partial', partial);
    const p = await api.call('POST', `/api/v1/backup/restore/${full}`, { body: { target: 'partial', paths: ['site/sub/deep'] } });
    expect(p.status).toBe(202);
    expect((await restoreDone(p.body.job_id)).status).toBe('completed');
    expect(Object.keys(manifest(partial))).toEqual(['sub', 'sub/deep', 'sub/deep/a.txt']);
    expect(fs.readFileSync(path.join(partial, 'sub/deep/a.txt'), 'utf8')).toBe('a');
  });

  it('restores the parts the backup recorded, even after its instance dropped them; into another instance without the part it fails, naming the part', async () => {
    const home = path.join(api.dir, 'dropped');
    writeTree(home, { 'keep.txt': 'kept', 'dir/x.bin': randomBytes(5000) });
    await instance('dropped', home);
    const created = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'dropped', type: 'full' } });
    expect((await backupDone(created.body.backup_id)).status).toBe('success');
    const before = manifest(home);
    // The instance loses its part (as a factory reset does to `device`), and the files go too.
    expect((await api.call('PUT', '/api/v1/instances/dropped', { body: { parts: [] } })).status).toBe(200);
    fs.rmSync(home, { recursive: true, force: true });
    const back = await api.call('POST', `/api/v1/backup/restore/${created.body.backup_id}`, { body: {} });
    expect(back.status).toBe(202);
    expect((await restoreDone(back.body.job_id)).status).toBe('completed');
    expect(manifest(home)).toEqual(before);

    const elsewhere = path.join(api.dir, 'elsewhere');
    await api.call('PUT', '/api/v1/instances/elsewhere', { body: { parts: [{ name: 'other', kind: 'directory', path: elsewhere }] } });
    const into = await api.call('POST', `/api/v1/backup/restore/${created.body.backup_id}`, { body: { target: 'elsewhere' } });
    expect(into.status).toBe(202);
    const failed = await restoreDone(into.body.job_id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/no part named site/);
  });

  it('two restores of one instance at the same moment: exactly one 202 and one 409', async () => {
    const twin = path.join(api.dir, 'twin');
    await instance('twin', twin);
    const both = await Promise.all([0, 1].map(() => api.call('POST', `/api/v1/backup/restore/${full}`, { body: { target: 'twin' } })));
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const conflict = both.find((r) => r.status === 409)!;
    expect(conflict.body.error).toBe('conflict');
    expect(conflict.body.message).toMatch(/restore/);
    const accepted = both.find((r) => r.status === 202)!;
    expect((await restoreDone(accepted.body.job_id)).status).toBe('completed');
    // Once it has ended, the next restore of that instance is accepted again.
    const again = await api.call('POST', `/api/v1/backup/restore/${full}`, { body: { target: 'twin' } });
    expect(again.status).toBe(202);
    await restoreDone(again.body.job_id);
  });

  it('restore errors: unknown backup or target 404, a backup that did not succeed 409, bad paths 400', async () => {
    expect((await api.call('POST', '/api/v1/backup/restore/backup-999999', { body: {} })).status).toBe(404);
    expect((await api.call('POST', `/api/v1/backup/restore/${full}`, { body: { target: 'nonesuch' } })).status).toBe(404);
    expect((await api.call('GET', '/api/v1/backup/restore/job-999999/status')).status).toBe(404);
    const bad = await api.call('POST', `/api/v1/backup/restore/${full}`, { body: { paths: ['../etc'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/paths/);
    // A backup job is not a restore job.
    const jobs = await api.call('GET', '/api/v1/jobs?kind=backup&limit=1');
    expect((await api.call('GET', `/api/v1/backup/restore/${jobs.body[0].id}/status`)).status).toBe(404);
  });

  it('streams a job\'s progress as Server-Sent Events and ends with `end`', async () => {
    fs.writeFileSync(path.join(src, 'index.html'), '<h1>changed</h1>');
    const c = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'incremental' } });
    const r = await api.call('GET', `/api/v1/jobs/${c.body.job_id}/events`, { as: 'viewer' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(r.text);
    expect(events[0]!.event).toBe('progress');
    expect(events[0]!.data.id).toBe(c.body.job_id);
    expect(events.at(-1)!.event).toBe('end');
    expect(events.at(-1)!.data).toMatchObject({ id: c.body.job_id, kind: 'backup', state: 'success', instance: 'web', backup_id: c.body.backup_id });
    expect(events.filter((e) => e.event === 'end')).toHaveLength(1);
    // An ended job: its state at once, then the end.
    const ended = parseSse((await api.call('GET', `/api/v1/jobs/${c.body.job_id}/events`)).text);
    expect(ended.map((e) => e.event)).toEqual(['progress', 'end']);
    const missing = await api.call('GET', '/api/v1/jobs/job-999999/events');
    expect([missing.status, missing.body.message]).toEqual([404, 'job 999999 not found']);
    const missingJob = await api.call('GET', '/api/v1/jobs/job-999999');
    expect([missingJob.status, missingJob.body.message]).toEqual([404, 'job 999999 not found']);
  });

  it('jobs: list with kind/state filters and X-Total-Count, one job, cancel of an ended job is 409', async () => {
    const list = await api.call('GET', '/api/v1/jobs?kind=restore&state=completed', { as: 'viewer' });
    expect(list.status).toBe(200);
    expect(Number(list.headers['x-total-count'])).toBeGreaterThanOrEqual(3);
    expect(list.body.every((j: { kind: string; state: string }) => j.kind === 'restore' && j.state === 'completed')).toBe(true);
    const one = await api.call('GET', `/api/v1/jobs/${list.body[0].id}`);
    expect(one.body).toMatchObject({ id: list.body[0].id, kind: 'restore' });
    expect((await api.call('POST', `/api/v1/jobs/${list.body[0].id}/cancel`, { as: 'admin' })).status).toBe(409);
    expect((await api.call('POST', '/api/v1/jobs/job-999999/cancel')).status).toBe(404);
  });

  it('deletes a backup: 204, then 404', async () => {
    const c = await api.call('POST', '/api/v1/backup/create', { body: { instance: 'web', type: 'full' } });
    await backupDone(c.body.backup_id);
    const del = await api.call('DELETE', `/api/v1/backup/${c.body.backup_id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await api.call('GET', `/api/v1/backup/${c.body.backup_id}`)).status).toBe(404);
    expect((await api.call('DELETE', `/api/v1/backup/${c.body.backup_id}`)).status).toBe(404);
  });
});

describe.each(catalogs)('job events with jobs that never run ($name)', (cat: CatalogUnderTest) => {
  // An API-only core runs no jobs, so a job stays queued and its stream stays open.
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(cat, { role: 'api' });
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await cat.cleanup();
  });

  it('a queued job is canceled with 202; its quiet stream gets heartbeats, then sees the state change and the end', async () => {
    const c = await api.call('POST', '/api/v1/backup/create', { as: 'backup_operator' });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = api.app.server.address() as AddressInfo;
    const received: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `/api/v1/jobs/${c.body.job_id}/events`, headers: { 'x-api-key': api.keys.viewer } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => received.push(d));
        res.on('end', resolve);
      }).on('error', reject);
    });
    await until('the first event', async () => received.join('').includes('event: progress') || undefined, 10_000, 20);
    // Nothing happens to a queued job: only the comment lines keep the stream alive through proxies.
    await until('a heartbeat', async () => received.join('').includes('\n\n: heartbeat\n\n') || undefined, 10_000, 20);
    const cancel = await api.call('POST', `/api/v1/jobs/${c.body.job_id}/cancel`, { as: 'backup_operator' });
    expect(cancel.status).toBe(202);
    expect(cancel.body.state).toBe('error');
    await ended;
    const events = parseSse(received.join(''));
    expect(events.map((e) => e.event)).toEqual(['progress', 'state', 'end']);
    expect(events[1]!.data.state).toBe('error');
    expect((await api.call('GET', `/api/v1/backup/${c.body.backup_id}`)).body.status).toBe('error');
  });

  it('a backup whose job is still queued cannot be deleted (409)', async () => {
    const c = await api.call('POST', '/api/v1/backup/create');
    const del = await api.call('DELETE', `/api/v1/backup/${c.body.backup_id}`);
    expect(del.status).toBe(409);
    expect(del.body.error).toBe('conflict');
    expect((await api.call('POST', `/api/v1/jobs/${c.body.job_id}/cancel`)).status).toBe(202);
    expect((await api.call('DELETE', `/api/v1/backup/${c.body.backup_id}`)).status).toBe(204);
  });

  it('stops following when the client disconnects, and closing the app ends open streams', async () => {
    const follow = api.core.jobs.follow.bind(api.core.jobs);
    let stopped = 0;
    api.core.jobs.follow = (id, fn, pollMs) => {
      const stop = follow(id, fn, pollMs);
      return () => {
        stopped++;
        stop();
      };
    };
    const { port } = api.app.server.address() as AddressInfo;
    const open = async () => {
      const c = await api.call('POST', '/api/v1/backup/create');
      return new Promise<{ req: http.ClientRequest; res: http.IncomingMessage }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: `/api/v1/jobs/${c.body.job_id}/events`, headers: { 'x-api-key': api.keys.admin } }, (res) => resolve({ req, res }));
        req.on('error', reject);
      });
    };
    const first = await open();
    first.req.destroy();
    await until('following to stop', async () => stopped === 1 || undefined, 10_000, 20);

    const second = await open();
    const ended = new Promise<void>((resolve) => second.res.on('close', resolve));
    second.res.resume();
    await api.app.close();
    await ended;
    expect(stopped).toBe(2);
  });
});
