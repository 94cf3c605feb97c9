/**
 * A 415 says what to send instead: the media types the route takes, from its declared `consumes`
 * (uploads) or the parsers of its scope (JSON, and HTML forms where Syncano takes them), in each
 * surface's error body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiUnderTest, startApi } from './api-harness.js';
import { catalogsUnderTest } from './catalogs.js';

const [sqlite] = await catalogsUnderTest();

describe('unsupported media types', () => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApi(sqlite!);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await sqlite?.cleanup();
  });

  const send = (method: 'POST' | 'PUT', url: string, type: string | undefined, payload: string) =>
    api.call(method, url, { payload, headers: type ? { 'content-type': type } : {} });

  it('a JSON route: send application/json', async () => {
    const r = await send('POST', '/api/v1/backup/create', 'text/plain; charset=utf-8', '{"type":"full"}');
    expect(r.status).toBe(415);
    expect(r.body).toEqual({ error: 'unsupported_media_type', message: 'media type "text/plain" is not accepted here: send application/json' });
    const none = await send('POST', '/api/v1/backup/create', undefined, '{"type":"full"}');
    expect(none.status).toBe(415);
    expect(none.body.message).toBe('the body has no Content-Type: send application/json');
  });

  it('an upload route: send one of the backup file types', async () => {
    const upload = 'send application/octet-stream, application/zip or application/x-zip-compressed';
    const r = await send('POST', '/api/v1/backup/upload', 'application/json', '{}');
    expect(r.status).toBe(415);
    expect(r.body).toEqual({ error: 'unsupported_media_type', message: `media type "application/json" is not accepted here: ${upload}` });
    const riverbed = await send('POST', '/api/npm.backup/1.0/backups/upload', 'application/json', '{}');
    expect(riverbed.status).toBe(415);
    expect(riverbed.body).toEqual({ error_id: 'UNSUPPORTED_MEDIA_TYPE', error_text: `media type "application/json" is not accepted here: ${upload}` });
  });

  it('a Syncano route: send JSON or an HTML form', async () => {
    const r = await send('POST', '/v1/instances/device/backups/full/', 'application/xml', '<label>x</label>');
    expect(r.status).toBe(415);
    expect(r.body).toEqual({ detail: 'media type "application/xml" is not accepted here: send application/json or application/x-www-form-urlencoded' });
  });

  it('the configuration API (whose every request error is 400 INVALID_REQUEST) says it too', async () => {
    const r = await send('POST', '/api/v1/configuration/backup', 'text/plain', 'password');
    expect(r.body).toEqual({ code: 'INVALID_REQUEST', message: 'media type "text/plain" is not accepted here: send application/json' });
  });
});
