import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseDirectory } from './directory-mode.js';
import { answer, readCommand } from './envelope.js';
import { OperationError, readParams } from './params.js';
import { parseGoDuration } from './periodic-backups.js';
import { parseCommandTopic, replyTopic, thingIdOfDittoTopic } from './topics.js';

describe('Kanto topics', () => {
  it('reads both command styles and answers each on its own form', () => {
    const seed = parseCommandTopic('command//edge:device/req//backup')!;
    expect(seed).toEqual({ tenant: '', device: 'edge:device', reqId: '', command: 'backup' });
    expect(replyTopic(seed, 204)).toBe('command//edge:device/res//backup');
    const kanto = parseCommandTopic('command///req/42abc/restore')!;
    expect(replyTopic(kanto, 409)).toBe('command///res/42abc/409');
    expect(replyTopic(parseCommandTopic('command///req//backup')!, 204)).toBe('command///res//204');
    expect(parseCommandTopic('command///res/1/204')).toBeNull();
    expect(parseCommandTopic('e')).toBeNull();
    expect(thingIdOfDittoTopic('edge/device/things/live/messages/backup')).toBe('edge:device');
    expect(thingIdOfDittoTopic('edge/things/live/messages/backup')).toBeNull();
  });
});

describe('Ditto envelopes', () => {
  const read = (v: unknown) => readCommand(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), 'edge:device', 'BackupAndRestore', thingIdOfDittoTopic);
  const base = { topic: 'edge/device/things/live/messages/backup', path: '/features/BackupAndRestore/inbox/messages/backup' };

  it('takes headers case-insensitively and replies unless response-required is false', () => {
    const r = read({ ...base, headers: { 'Correlation-Id': 'c1' } });
    expect(r).toMatchObject({ kind: 'ok', message: { operation: 'backup', correlationId: 'c1', responseRequired: true } });
    expect(read({ ...base, headers: { 'response-required': false } })).toMatchObject({ kind: 'ok', message: { responseRequired: false } });
  });

  it('ignores other things and features; refuses broken envelopes', () => {
    expect(read({ ...base, topic: 'other/device/things/live/messages/backup' }).kind).toBe('ignore');
    expect(read({ ...base, path: '/features/Other/inbox/messages/backup' }).kind).toBe('ignore');
    expect(read({ ...base, path: '/features/BackupAndRestore/outbox/messages/backup' }).kind).toBe('ignore');
    expect(read('{').kind).toBe('invalid');
    expect(read({ ...base, headers: null })).toMatchObject({ kind: 'invalid', why: "'headers' must be an object, got null" });
    expect(read({ ...base, headers: { 'response-required': 1 } })).toMatchObject({ kind: 'invalid', responseRequired: true });
  });

  it('answers on the outbox path with the correlation id and content type only', () => {
    expect(answer(base.topic, base.path, 'c', 204)).toEqual({
      topic: base.topic, path: '/features/BackupAndRestore/outbox/messages/backup', status: 204,
      headers: { 'correlation-id': 'c', 'content-type': 'application/json' },
    });
  });
});

describe('operation parameters', () => {
  it('match keys case-insensitively; providers as list or object', () => {
    expect(readParams('backup', { CORRELATIONID: 'x', providers: { aws: {} }, Options: { 'backup.dir': '/d' } })).toMatchObject({ correlationId: 'x', providers: ['aws'], options: { 'backup.dir': '/d' } });
    expect(readParams('backup', null)).toMatchObject({ correlationId: '', options: {} });
    expect(readParams('cancel', { correlationId: 'c', statusCode: 400, message: 'm' })).toMatchObject({ statusCode: '400', message: 'm' });
  });

  it('refuse wrong types with Kanto\'s message', () => {
    expect(() => readParams('restore', { options: { a: 1 } })).toThrow(OperationError);
    expect(() => readParams('restore', [1])).toThrow(/^invalid 'restore' operation parameters: \[1\]/);
  });
});

describe('directory modes', () => {
  const dir = '/srv/kanto';
  it('strict: only the directory; scoped: it and below; lax: anything', () => {
    expect(chooseDirectory(undefined, dir, 'strict')).toBe(dir);
    expect(chooseDirectory('/srv/kanto/', dir, 'strict')).toBe(dir);
    expect(() => chooseDirectory('/srv/kanto/sub', dir, 'strict')).toThrow("accessing directory '/srv/kanto/sub' is not permitted under mode 'strict'");
    expect(chooseDirectory('/srv/kanto/sub', dir, 'scoped')).toBe(path.resolve('/srv/kanto/sub'));
    expect(() => chooseDirectory('/srv/kanto/../other', dir, 'scoped')).toThrow(/not permitted under mode 'scoped'/);
    expect(() => chooseDirectory('/srv/kantoX', dir, 'scoped')).toThrow(/not permitted/);
    expect(chooseDirectory('/anywhere', undefined, 'lax')).toBe('/anywhere');
    expect(() => chooseDirectory(undefined, undefined, 'lax')).toThrow('backup directory not specified');
  });
});

describe('Kanto periods', () => {
  it('reads Go durations as Kanto writes its period', () => {
    expect(parseGoDuration('10h')).toBe(36_000_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('2s')).toBe(2000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('250ms')).toBe(250);
    for (const bad of ['', '10', 'h', '10 h', '10d', '-1s', '1h junk']) expect(() => parseGoDuration(bad), bad).toThrow(/is not a duration/);
  });
});
