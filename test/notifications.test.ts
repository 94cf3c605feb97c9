/**
 * Notifications end to end, on a real server core: a local webhook receiver (node:http) gets the
 * generic, Slack and Discord bodies of a failed backup; a local SMTP server (smtp-server) gets the
 * email; a receiver that is down makes a delivery that is retried, shown failed with its attempts
 * and error, and delivered on request once the receiver is up; an overdue schedule is reported
 * once per missed run; Healthchecks pings arrive at /start, / and /fail; secrets never appear in
 * an API response; only admins manage channels.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { SYSTEM_ACTOR } from '../src/core/index.js';
import { type ApiUnderTest, startApi } from './api-harness.js';
import { type CatalogUnderTest, catalogsUnderTest } from './catalogs.js';
import { tempDir } from './helpers.js';
import { until } from './server-process.js';

const catalogs = await catalogsUnderTest();

interface Received { method: string; url: string; contentType: string; body: string }

/** An HTTP receiver on loopback that records every request and answers 200. */
async function receiver(port = 0): Promise<{ url: string; port: number; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}`, port: p, got, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A port nothing listens on (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const r = await receiver();
  await r.close();
  return r.port;
}

describe.each(catalogs)('notifications on $name', (cat: CatalogUnderTest) => {
  let api: ApiUnderTest;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  const secretPaths = ['/generic/SECRET-TOKEN-GENERIC', '/slack/SECRET-TOKEN-SLACK', '/discord/SECRET-TOKEN-DISCORD'];

  beforeAll(async () => {
    api = await startApi(cat, { notificationRetry: { baseDelayMs: 50, maxAttempts: 3 } });
    hooks = await receiver();
    const src = path.join(api.dir, 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'a');
    for (const [name, dir] of [['good', src], ['broken', path.join(api.dir, 'gone')], ['quiet', src]] as const) {
      const r = await api.call('PUT', `/api/v1/instances/${name}`, { body: { parts: [{ name: 'p', path: dir }] } });
      expect(r.status, r.text).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await hooks?.close();
    await api?.close();
    await cat.cleanup();
  });

  /** A backup of `instance` that ends in error (nothing is selected), and its job id. */
  async function failedBackup(instance: string): Promise<{ backupId: string; jobId: string }> {
    const r = await api.call('POST', '/api/v1/backup/create', { body: { instance, include_files: false } });
    expect(r.status, r.text).toBe(201);
    expect((await api.backupDone(r.body.backup_id)).status).toBe('error');
    return { backupId: r.body.backup_id, jobId: r.body.job_id };
  }

  const deliveries = async (query: string) => {
    const r = await api.call('GET', `/api/v1/notification-deliveries?${query}`);
    expect(r.status, r.text).toBe(200);
    return r.body as { id: string; status: string; attempts: number; last_error: string | null; response_status: number | null; event: string; summary: string }[];
  };

  it('webhook, Slack and Discord channels receive a failed backup; their URLs never come back', async () => {
    const made = [];
    for (const [i, kind] of (['webhook', 'slack', 'discord'] as const).entries()) {
      const r = await api.call('POST', '/api/v1/notifications', { body: { name: `hook-${kind}`, kind, url: hooks.url + secretPaths[i], instance: 'broken' } });
      expect(r.status, r.text).toBe(201);
      expect(r.body).toMatchObject({ kind, events: ['job.failed'], url_set: true, smtp_password_set: false, instance: 'broken' });
      made.push(r.body);
    }
    // Opted in to successes only: a failure does not reach it.
    expect((await api.call('POST', '/api/v1/notifications', { body: { name: 'successes', kind: 'webhook', url: `${hooks.url}/successes`, events: ['job.succeeded'] } })).status).toBe(201);

    const { backupId, jobId } = await failedBackup('broken');
    await until('three webhook requests', async () => (hooks.got.length >= 3 ? true : undefined), 20_000, 50);
    const at = (p: string) => hooks.got.find((g) => g.url === p)!;
    const generic = JSON.parse(at(secretPaths[0]!).body);
    expect(generic).toMatchObject({ event: 'job.failed', instance: 'broken', backup_id: backupId, job: { id: jobId, kind: 'backup', state: 'error' } });
    expect(generic.job.error).toMatch(/nothing selected/);
    expect(generic.summary).toContain(jobId);
    const slack = JSON.parse(at(secretPaths[1]!).body);
    expect(Object.keys(slack)).toEqual(['text']);
    expect(slack.text).toContain('failed');
    expect(slack.text).toContain(backupId);
    const discord = JSON.parse(at(secretPaths[2]!).body);
    expect(Object.keys(discord)).toEqual(['content']);
    expect(discord.content).toContain('instance broken');
    expect(hooks.got.some((g) => g.url === '/successes')).toBe(false);

    for (const c of made) {
      // The receiver has the request; the sender records the outcome right after.
      const [d] = await until('the delivery recorded', async () => {
        const ds = await deliveries(`notification=${c.id}&status=delivered`);
        return ds.length ? ds : undefined;
      }, 10_000, 50);
      expect(d).toMatchObject({ event: 'job.failed', status: 'delivered', attempts: 1, response_status: 200, last_error: null });
    }
    // What admins read back never holds a URL's token.
    const everything = [
      await api.call('GET', '/api/v1/notifications'), ...made.map((c) => api.call('GET', `/api/v1/notifications/${c.id}`)),
      await api.call('GET', '/api/v1/notification-deliveries'), await api.call('GET', '/api/v1/audit'),
    ];
    for (const r of await Promise.all(everything)) {
      expect(r.status).toBe(200);
      expect(r.text).not.toMatch(/SECRET-TOKEN|\/generic\/|\/slack\//);
    }
    // An update without `url` keeps it; with `url` replaces it.
    const upd = await api.call('PUT', `/api/v1/notifications/${made[0].id}`, { body: { events: ['job.failed', 'job.succeeded'] } });
    expect(upd.status, upd.text).toBe(200);
    expect(upd.body).toMatchObject({ url_set: true, events: ['job.failed', 'job.succeeded'] });
    expect((await api.call('PUT', `/api/v1/notifications/${made[0].id}`, { body: { kind: 'slack' } })).status).toBe(400);
    expect((await api.call('POST', '/api/v1/notifications', { body: { name: 'nourl', kind: 'webhook' } })).status).toBe(400);
    expect((await api.call('POST', '/api/v1/notifications', { body: { name: 'ftp', kind: 'webhook', url: 'ftp://x/y' } })).status).toBe(400);
    expect((await api.call('POST', '/api/v1/notifications', { body: { name: 'hook-slack', kind: 'slack', url: hooks.url } })).status).toBe(409);
    for (const c of made) expect((await api.call('DELETE', `/api/v1/notifications/${c.id}`)).status).toBe(204);
  }, 60_000);

  it('an email channel sends over SMTP (password sealed, never shown)', async () => {
    const mails: { from: string; to: string[]; user: string | undefined; data: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true, allowInsecureAuth: true, disabledCommands: ['STARTTLS'], logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'coffer' && auth.password === 'smtp-SECRET-pw') cb(null, { user: auth.username });
        else cb(new Error('bad credentials'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, data: Buffer.concat(chunks).toString('utf8') });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      const r = await api.call('POST', '/api/v1/notifications', {
        body: { name: 'mail', kind: 'email', smtp_host: '127.0.0.1', smtp_port: port, smtp_tls: 'none', smtp_user: 'coffer', smtp_password: 'smtp-SECRET-pw', from: 'coffer@example.org', to: ['ops@example.org'] },
      });
      expect(r.status, r.text).toBe(201);
      expect(r.body).toMatchObject({ kind: 'email', smtp_host: '127.0.0.1', smtp_port: port, smtp_tls: 'none', smtp_user: 'coffer', smtp_password_set: true, url_set: false, to: ['ops@example.org'] });
      expect(r.text).not.toContain('SECRET');
      const t = await api.call('POST', `/api/v1/notifications/${r.body.id}/test`);
      expect(t.status, t.text).toBe(200);
      expect(t.body).toMatchObject({ event: 'test', status: 'delivered', attempts: 1 });
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({ from: 'coffer@example.org', to: ['ops@example.org'], user: 'coffer' });
      expect(mails[0]!.data).toMatch(/Subject: Coffer on .*test message of notification channel mail/);

      // A failed backup reaches the mailbox through the dispatcher.
      const { jobId } = await failedBackup('quiet');
      await until('the failure email', async () => (mails.length >= 2 ? true : undefined), 20_000, 50);
      expect(mails[1]!.data).toContain(jobId);

      // A wrong password: the test answers failed with the server's reason, and no secret.
      const wrong = await api.call('PUT', `/api/v1/notifications/${r.body.id}`, { body: { smtp_password: 'wrong-SECRET-pw' } });
      expect(wrong.status).toBe(200);
      const bad = await api.call('POST', `/api/v1/notifications/${r.body.id}/test`);
      expect(bad.body).toMatchObject({ status: 'failed' });
      expect(bad.body.last_error).toMatch(/auth|credentials/i);
      expect(bad.text).not.toContain('SECRET');
      expect((await api.call('DELETE', `/api/v1/notifications/${r.body.id}`)).status).toBe(204);
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  }, 60_000);

  it('a receiver that is down: retried, shown failed with attempts and error, delivered once it is up', async () => {
    const port = await closedPort();
    const c = await api.call('POST', '/api/v1/notifications', { body: { name: 'down', kind: 'webhook', url: `http://127.0.0.1:${port}/down-SECRET`, instance: 'quiet' } });
    expect(c.status, c.text).toBe(201);
    await failedBackup('quiet');
    const [failed] = await until('the delivery to fail', async () => {
      const ds = await deliveries(`notification=${c.body.id}&status=failed`);
      return ds.length ? ds : undefined;
    }, 20_000, 50);
    expect(failed).toMatchObject({ event: 'job.failed', status: 'failed', attempts: 3, response_status: null });
    expect(failed!.last_error).toMatch(/ECONNREFUSED/);
    expect(failed!.last_error).not.toContain('SECRET');

    const up = await receiver(port);
    try {
      const retry = await api.call('POST', `/api/v1/notification-deliveries/${failed!.id}/retry`);
      expect(retry.status, retry.text).toBe(200);
      expect(retry.body.status).toMatch(/pending|delivered/);
      await until('the retried delivery', async () => ((await deliveries(`notification=${c.body.id}&status=delivered`)).length ? true : undefined), 20_000, 50);
      expect(up.got).toHaveLength(1);
      expect(JSON.parse(up.got[0]!.body).event).toBe('job.failed');
      // Only a failed delivery is retried.
      expect((await api.call('POST', `/api/v1/notification-deliveries/${failed!.id}/retry`)).status).toBe(409);
    } finally {
      await up.close();
    }
    expect((await api.call('DELETE', `/api/v1/notifications/${c.body.id}`)).status).toBe(204);
  }, 60_000);

  it('an overdue schedule is reported once per missed run', async () => {
    const c = await api.call('POST', '/api/v1/notifications', { body: { name: 'overdue', kind: 'webhook', url: `${hooks.url}/overdue`, events: ['schedule.overdue'] } });
    expect(c.status, c.text).toBe(201);
    const s = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'good', cron: '0 3 * * *', timezone: 'UTC', overdue_grace_seconds: 600 } });
    expect(s.status, s.text).toBe(201);
    expect(s.body).toMatchObject({ overdue_grace_seconds: 600, ping_url_set: false });
    // The check at times to come: the first 03:00 run after the schedule was made has had no backup at all
    // (today's when it is made before 03:00 UTC, else tomorrow's).
    const created = Date.parse(s.body.created_at);
    const due = new Date(created);
    due.setUTCHours(3, 0, 0, 0);
    if (due.getTime() <= created) due.setUTCDate(due.getUTCDate() + 1);
    await api.core.overdue.check(new Date(due.getTime() + 300_000)); // within the grace: not yet
    expect(await deliveries(`notification=${c.body.id}`)).toHaveLength(0);
    for (const minutes of [11, 12, 60]) await api.core.overdue.check(new Date(due.getTime() + minutes * 60_000));
    let ds = await deliveries(`notification=${c.body.id}`);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ event: 'schedule.overdue' });
    expect(ds[0]!.summary).toContain(`${s.body.id}`);
    expect(ds[0]!.summary).toContain(due.toISOString());
    // The next day's run is missed too: a second report.
    await api.core.overdue.check(new Date(due.getTime() + 86_400_000 + 3_600_000));
    ds = await deliveries(`notification=${c.body.id}`);
    expect(ds).toHaveLength(2);
    await until('both overdue reports', async () => (hooks.got.filter((g) => g.url === '/overdue').length === 2 ? true : undefined), 20_000, 50);
    expect(JSON.parse(hooks.got.find((g) => g.url === '/overdue')!.body)).toMatchObject({ event: 'schedule.overdue', schedule_id: s.body.id, overdue: { expected_at: due.toISOString(), grace_seconds: 600 } });
    expect((await api.call('DELETE', `/api/v1/backup/schedule/${s.body.id}`)).status).toBe(204);

    // Runs expected while a schedule was disabled were not missed: enabling it does not report them.
    const every = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'good', cron: '* * * * * *', enabled: false, overdue_grace_seconds: 1 } });
    expect(every.status, every.text).toBe(201);
    await until('runs expected while disabled', async () => (Date.now() - Date.parse(every.body.created_at) > 2_500 ? true : undefined), 10_000, 100);
    expect((await api.call('PUT', `/api/v1/backup/schedule/${every.body.id}`, { body: { enabled: true } })).status).toBe(200);
    await api.core.overdue.check(new Date());
    expect((await api.call('PUT', `/api/v1/backup/schedule/${every.body.id}`, { body: { enabled: false } })).status).toBe(200);
    expect(await deliveries(`schedule=${every.body.id}`)).toHaveLength(0);
    expect((await api.call('DELETE', `/api/v1/backup/schedule/${every.body.id}`)).status).toBe(204);
    expect((await api.call('DELETE', `/api/v1/notifications/${c.body.id}`)).status).toBe(204);
  }, 60_000);

  it('a schedule\'s Healthchecks pings arrive at /start, / and /fail', async () => {
    const ping = await receiver();
    try {
      const runOnce = async (instance: string, check: string) => {
        const s = await api.call('POST', '/api/v1/backup/schedule', { body: { instance, cron: '* * * * * *', ping_url: `${ping.url}/ping/${check}` } });
        expect(s.status, s.text).toBe(201);
        expect(s.body.ping_url_set).toBe(true);
        expect(s.text).not.toContain(check);
        const backup = await until('a scheduled backup', async () => {
          const list = await api.call('GET', `/api/v1/backup/list?instance=${instance}`);
          return (list.body as { schedule_id: string | null; id: string }[]).find((b) => b.schedule_id === s.body.id);
        }, 20_000, 50);
        expect((await api.call('PUT', `/api/v1/backup/schedule/${s.body.id}`, { body: { enabled: false } })).status).toBe(200);
        return api.backupDone(backup.id);
      };
      expect((await runOnce('good', 'check-good-SECRET')).status).toBe('success');
      await until('start and success pings', async () => (ping.got.some((g) => g.url === '/ping/check-good-SECRET') ? true : undefined), 20_000, 50);
      expect(ping.got.find((g) => g.url === '/ping/check-good-SECRET/start')).toBeDefined();
      expect(ping.got.find((g) => g.url === '/ping/check-good-SECRET')!.body).toContain('succeeded');

      expect((await runOnce('broken', 'check-broken-SECRET')).status).toBe('error');
      await until('the fail ping', async () => (ping.got.some((g) => g.url === '/ping/check-broken-SECRET/fail') ? true : undefined), 20_000, 50);
      expect(ping.got.find((g) => g.url === '/ping/check-broken-SECRET/fail')!.body).toContain('failed');
      const pings = await until('four pings recorded', async () => {
        const ds = (await deliveries('status=delivered')).filter((d) => d.event.startsWith('ping.'));
        return ds.length >= 4 ? ds : undefined;
      }, 10_000, 50);
      expect(JSON.stringify(pings)).not.toContain('SECRET');
    } finally {
      await ping.close();
    }
  }, 60_000);

  it('a configuration backup carries channels and ping URLs, sealed, and puts them back', async () => {
    const c = await api.call('POST', '/api/v1/notifications', { body: { name: 'carried', kind: 'slack', url: `${hooks.url}/carried-SECRET`, events: ['job.failed', 'schedule.overdue'], instance: 'good' } });
    expect(c.status, c.text).toBe(201);
    const s = await api.call('POST', '/api/v1/backup/schedule', { body: { instance: 'good', cron: '0 4 * * *', enabled: false, ping_url: `${hooks.url}/carried-ping-SECRET`, overdue_grace_seconds: 120 } });
    expect(s.status, s.text).toBe(201);
    const zip = await api.core.configuration.exportEncrypted(SYSTEM_ACTOR, 'configuration-password');
    expect((await api.call('DELETE', `/api/v1/notifications/${c.body.id}`)).status).toBe(204);
    expect((await api.call('DELETE', `/api/v1/backup/schedule/${s.body.id}`)).status).toBe(204);

    await api.core.configuration.importEncrypted(SYSTEM_ACTOR, zip, 'configuration-password');
    const back = (await api.call('GET', '/api/v1/notifications')).body.find((n: { name: string }) => n.name === 'carried');
    expect(back).toMatchObject({ kind: 'slack', url_set: true, events: ['job.failed', 'schedule.overdue'], instance: 'good', enabled: true });
    const schedule = (await api.call('GET', '/api/v1/backup/schedule?instance=good')).body.find((x: { cron: string }) => x.cron === '0 4 * * *');
    expect(schedule).toMatchObject({ ping_url_set: true, overdue_grace_seconds: 120, enabled: false });
    // The URL opens under the server secret again: the test message arrives.
    const t = await api.call('POST', `/api/v1/notifications/${back.id}/test`);
    expect(t.body).toMatchObject({ status: 'delivered' });
    expect(hooks.got.some((g) => g.url === '/carried-SECRET' && JSON.parse(g.body).text.includes('test message'))).toBe(true);
    expect((await api.call('DELETE', `/api/v1/notifications/${back.id}`)).status).toBe(204);
    expect((await api.call('DELETE', `/api/v1/backup/schedule/${schedule.id}`)).status).toBe(204);
  }, 60_000);

  it('viewers and backup operators may not see or manage channels', async () => {
    const c = await api.call('POST', '/api/v1/notifications', { body: { name: 'roles', kind: 'webhook', url: `${hooks.url}/roles` } });
    for (const as of ['viewer', 'backup_operator'] as const) {
      for (const [method, url] of [
        ['GET', '/api/v1/notifications'], ['POST', '/api/v1/notifications'], ['GET', `/api/v1/notifications/${c.body.id}`], ['PUT', `/api/v1/notifications/${c.body.id}`],
        ['DELETE', `/api/v1/notifications/${c.body.id}`], ['POST', `/api/v1/notifications/${c.body.id}/test`], ['GET', '/api/v1/notification-deliveries'],
        ['POST', '/api/v1/notification-deliveries/1/retry'],
      ] as const) {
        const body = method === 'POST' && url === '/api/v1/notifications' ? { name: 'x', kind: 'webhook', url: hooks.url } : method === 'PUT' ? { enabled: false } : undefined;
        const r = await api.call(method, url, { as, ...(body ? { body } : {}) });
        expect(r.status, `${as} ${method} ${url}`).toBe(403);
      }
    }
  });
});

describe.each(catalogs)('delivery claims on $name', (cat: CatalogUnderTest) => {
  it('two processes sharing the catalog send each attempt once; a lapsed claim passes on', async () => {
    const dir = tempDir('coffer-claims-');
    const location = await cat.create(dir);
    const a = await Catalog.open(location);
    const b = await Catalog.open(location);
    try {
      for (let i = 0; i < 30; i++) await a.notifications.enqueue({ channelId: null, scheduleId: null, event: 'test', dedupeKey: `claim-${i}`, message: { n: i } });
      // The same key again is not a second delivery.
      expect(await b.notifications.enqueue({ channelId: null, scheduleId: null, event: 'test', dedupeKey: 'claim-0', message: {} })).toBe(false);
      const later = new Date(Date.now() + 60_000).toISOString();
      const drain = async (c: Catalog, worker: string) => {
        const got: number[] = [];
        for (let d = await c.notifications.claim(worker, later); d; d = await c.notifications.claim(worker, later)) got.push(d.id);
        return got;
      };
      const [fromA, fromB] = await Promise.all([drain(a, 'worker-a'), drain(b, 'worker-b')]);
      const all = [...fromA, ...fromB].sort((x, y) => x - y);
      expect(all).toHaveLength(30);
      expect(new Set(all).size).toBe(30);

      // A claim that lapsed (its process died) is taken over; the late settle of the first claimant changes nothing.
      await a.notifications.enqueue({ channelId: null, scheduleId: null, event: 'test', dedupeKey: 'lapsed', message: {} });
      const first = (await a.notifications.claim('worker-a', new Date(Date.now() - 1).toISOString()))!;
      const second = (await b.notifications.claim('worker-b', later))!;
      expect(second.id).toBe(first.id);
      expect(second.attempts).toBe(2);
      await a.notifications.settle(first.id, 'worker-a', { status: 'failed', responseStatus: null, error: 'late' });
      await b.notifications.settle(second.id, 'worker-b', { status: 'delivered', responseStatus: 200, error: null });
      expect(await a.notifications.delivery(first.id)).toMatchObject({ status: 'delivered', attempts: 2, responseStatus: 200, lastError: null });
    } finally {
      await a.close();
      await b.close();
      await cat.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
