import { describe, expect, it } from 'vitest';
import { createServerLogger, noticeLogger, prettyLine } from './server-log.js';

function captured(format: 'json' | 'pretty', level = 'info') {
  const out: string[] = [];
  const logger = createServerLogger({ level, format, out: { write: (s: string) => void out.push(s) } });
  return { logger, out };
}

describe('the server logger', () => {
  it('writes JSON lines with the level as a word and an ISO time', () => {
    const { logger, out } = captured('json');
    logger.info({ job_id: 3 }, 'backup job 3 started');
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'backup job 3 started', job_id: 3 });
    expect(new Date(line['time'] as string).toISOString()).toBe(line['time']);
  });

  it('drops lines below its level', () => {
    const { logger, out } = captured('json', 'warn');
    logger.info('quiet');
    logger.warn('loud');
    expect(out.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['loud']);
  });

  it('notices pass every level, silent included', () => {
    const { logger, out } = captured('json', 'silent');
    logger.error('not this');
    noticeLogger(logger).info({ notice: 'listening' }, 'coffer listening on http://127.0.0.1:1');
    expect(out.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([{ level: 'info', notice: 'listening' }]);
  });

  it('masks credential fields at any depth of a line', () => {
    const { logger, out } = captured('json');
    logger.info({ password: 'p1', options: { apiKey: 'k1', sealed: 's1' }, api_key: 'k2' }, 'settings');
    expect(out[0]).not.toMatch(/p1|k1|s1|k2/);
    expect(JSON.parse(out[0]!)).toMatchObject({ password: '[redacted]', options: { apiKey: '[redacted]' } });
  });

  it('pretty: time, level, component, message, then the fields the message does not already say', () => {
    const line = prettyLine(JSON.stringify({ level: 'error', time: '2026-01-02T03:04:05.000Z', pid: 1, hostname: 'h', component: 'jobs', job_id: 7, instance: 'web app', msg: 'backup job 7 failed', err: { message: 'disk full', stack: 'x' } }));
    expect(line).toBe('2026-01-02T03:04:05.000Z ERROR [jobs] backup job 7 failed instance="web app" err="disk full"\n');
  });

  it('pretty: the credentials notice is a framed block', () => {
    const block = prettyLine(JSON.stringify({ level: 'warn', time: 't', notice: 'credentials', msg: 'Created user admin. Password: x\nStore them now.' }));
    const lines = block.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^=+$/);
    expect(lines.at(-1)).toMatch(/^=+$/);
    expect(lines.slice(1, -1)).toEqual(['  Created user admin. Password: x', '  Store them now.']);
  });
});
