/**
 * The page at `/`: public HTML with the links a person needs before any web UI, under a policy
 * that lets no script run; HEAD answers the same headers.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiUnderTest, startApi } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';

const sqlite = (await catalogsUnderTest()).find((c) => c.name === 'sqlite')!;

describe('the front page', () => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(sqlite);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('is HTML with Coffer\'s name, version and links, for anyone, without script', async () => {
    const r = await api.call('GET', '/', { as: 'none' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.text).toContain(`Coffer <small>${api.core.identity.swVersion}</small>`);
    for (const href of ['/docs', '/healthz', '/metrics', '/api/v1/openapi.json']) expect(r.text).toContain(`href="${href}"`);
    expect(r.text).toContain('npx coffer --help');
    expect(r.text).not.toMatch(/<script|\son\w+=/i);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('allows its own inline style by hash and nothing else', async () => {
    const r = await api.call('GET', '/', { as: 'none' });
    const style = /<style>([^<]*)<\/style>/.exec(r.text)![1]!;
    expect(String(r.headers['content-security-policy'])).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const get = await api.call('GET', '/', { as: 'none' });
    const head = await api.call('HEAD', '/', { as: 'none' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    for (const h of ['content-type', 'content-security-policy', 'x-content-type-options']) expect(head.headers[h]).toBe(get.headers[h]);
  });

  it('stays out of the OpenAPI document, and other unknown paths still answer 404 JSON', async () => {
    const doc = await api.call('GET', '/api/v1/openapi.json', { as: 'none' });
    expect(Object.keys(doc.body.paths)).not.toContain('/');
    const missing = await api.call('GET', '/nothing-here', { as: 'none' });
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses what it does not serve: a POST to / is not a route', async () => {
    const r = await api.call('POST', '/', { as: 'none', body: {} });
    expect(r.status).toBe(404);
  });
});
