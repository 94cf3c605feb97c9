// Bucketing defaults to the process's zone; pin it before any Date is used (vitest runs test files in
// forked processes, and node re-reads TZ when it is assigned). Most tests also pass `timeZone`.
process.env.TZ = 'UTC';

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ForgetPolicy, type PolicySnapshot, DEFAULT_GROUP_BY, PolicyError, applyPolicy, describePolicy,
  formatDuration, groupSnapshots, hasTags, isEmptyPolicy, isoWeek, parseDuration, parseGroupBy,
  parseTagList, planForget, timeOffsetOf, validatePolicy, withinDays,
} from './forget-policy.js';

interface Snap extends PolicySnapshot {
  label: string;
}

let counter = 0;
/** A snapshot at an RFC 3339 time; its offset is kept as restic keeps it. */
function snap(time: string, extra: Partial<Snap> = {}): Snap {
  counter++;
  return {
    id: `id${counter}`,
    label: time,
    time: new Date(time),
    timeOffsetMinutes: timeOffsetOf(time),
    hostname: 'h',
    paths: ['/data'],
    ...extra,
  };
}

const NOW = new Date('2030-01-01T00:00:00Z');
const UTC = { now: NOW, timeZone: 'UTC' };

function labels(list: readonly Snap[]): string[] {
  return list.map((s) => s.label);
}

function run(list: Snap[], policy: ForgetPolicy, opts: { now?: Date; timeZone?: string } = UTC) {
  const r = applyPolicy(list, policy, opts);
  return {
    keep: labels(r.keep),
    remove: labels(r.remove),
    reasons: Object.fromEntries(r.keep.map((s) => [s.label, r.reasons.get(s)])),
    result: r,
  };
}

describe('parseDuration / formatDuration', () => {
  it('parses restic durations', () => {
    expect(parseDuration('1y2m3d4h')).toEqual({ years: 1, months: 2, days: 3, hours: 4 });
    expect(parseDuration('  2d ')).toEqual({ years: 0, months: 0, days: 2, hours: 0 });
    expect(parseDuration('4h1y')).toEqual({ years: 1, months: 0, days: 0, hours: 4 });
    // a repeated unit overrides (restic: "400d2h1d" is "1d2h")
    expect(parseDuration('400d2h1d')).toEqual({ years: 0, months: 0, days: 1, hours: 2 });
    expect(parseDuration('-1d')).toEqual({ years: 0, months: 0, days: -1, hours: 0 });
    expect(parseDuration('')).toEqual({ years: 0, months: 0, days: 0, hours: 0 });
    expect(parseDuration('0d')).toEqual({ years: 0, months: 0, days: 0, hours: 0 });
  });

  it('rejects malformed durations', () => {
    for (const bad of ['d', '1', '1x', '1.5d', '1 d', '1d-', 'y1', '1D']) {
      expect(() => parseDuration(bad), bad).toThrow(PolicyError);
    }
  });

  it('formats like restic (y m d h, zero units dropped)', () => {
    expect(formatDuration(parseDuration('4h1y'))).toBe('1y4h');
    expect(formatDuration(parseDuration('400d2h1d'))).toBe('1d2h');
    expect(formatDuration(parseDuration('0y3m'))).toBe('3m');
    expect(formatDuration(parseDuration(''))).toBe('');
  });
});

describe('policy checks', () => {
  it('isEmptyPolicy follows restic Empty()', () => {
    expect(isEmptyPolicy({})).toBe(true);
    expect(isEmptyPolicy({ last: 0, daily: 0, within: '0d', withinDaily: '', tags: [] })).toBe(true);
    expect(isEmptyPolicy({ last: 1 })).toBe(false);
    expect(isEmptyPolicy({ yearly: -1 })).toBe(false);
    expect(isEmptyPolicy({ within: '1h' })).toBe(false);
    expect(isEmptyPolicy({ withinYearly: '-1y' })).toBe(false);
    expect(isEmptyPolicy({ tags: [[]] })).toBe(false);
    expect(isEmptyPolicy({ tags: [['a']] })).toBe(false);
  });

  it('validatePolicy rejects bad counts and durations', () => {
    expect(() => validatePolicy({ last: -2 })).toThrow(PolicyError);
    expect(() => validatePolicy({ daily: 1.5 })).toThrow(PolicyError);
    expect(() => validatePolicy({ within: '3w' })).toThrow(PolicyError);
    expect(() => validatePolicy({ withinDaily: { years: 0, months: 0, days: 0.5, hours: 0 } })).toThrow(PolicyError);
    expect(() => validatePolicy({ last: -1, daily: 0, within: { years: 1, months: 0, days: 0, hours: 0 } })).not.toThrow();
    expect(() => applyPolicy([], { hourly: -3 })).toThrow(PolicyError);
  });

  it('describePolicy matches restic wording', () => {
    expect(describePolicy({ last: 3, daily: 7, weekly: -1 })).toBe('keep 3 latest, 7 daily, all weekly snapshots');
    expect(describePolicy({ monthly: 1, withinDaily: '7d', withinWeekly: '1m', tags: [['a', 'b'], ['c']], within: '2y' }))
      .toBe('keep 1 monthly snapshots, daily snapshots within 7d, weekly snapshots within 1m and all snapshots ' +
        'with tags [[a, b] [c]] and all snapshots within 2y of the newest');
    expect(describePolicy({})).toBe('keep ');
  });

  it('withinDays builds the --keep-within fragment', () => {
    expect(withinDays(30)).toEqual({ within: '30d' });
    expect(() => withinDays(0)).toThrow(PolicyError);
    expect(() => withinDays(1.5)).toThrow(PolicyError);
  });

  it('parseTagList and parseGroupBy parse restic flag values', () => {
    expect(parseTagList('a,b')).toEqual(['a', 'b']);
    expect(parseTagList(' a , b ')).toEqual(['a', 'b']);
    expect(parseTagList('')).toEqual(['']);
    expect(parseGroupBy('host,paths')).toEqual(DEFAULT_GROUP_BY);
    expect(parseGroupBy('hosts,tag')).toEqual({ host: true, paths: false, tags: true });
    expect(parseGroupBy('')).toEqual({ host: false, paths: false, tags: false });
    expect(() => parseGroupBy('host,time')).toThrow(/unknown grouping option: 'time'/);
  });

  it('timeOffsetOf reads the offset of a restic time string', () => {
    expect(timeOffsetOf('2024-01-02T03:04:05Z')).toBe(0);
    expect(timeOffsetOf('2024-01-02T03:04:05.123456789+02:00')).toBe(120);
    expect(timeOffsetOf('2024-01-02T03:04:05-05:30')).toBe(-330);
    expect(timeOffsetOf('2024-01-02T03:04:05-00:00')).toBe(0);
    expect(timeOffsetOf('2024-01-02T03:04:05')).toBeUndefined();
  });

  it('isoWeek agrees with ISO 8601 (Go ISOWeek)', () => {
    expect(isoWeek(2020, 12, 31)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2021, 1, 3)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2021, 1, 4)).toEqual({ year: 2021, week: 1 });
    expect(isoWeek(2024, 12, 30)).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(2023, 1, 1)).toEqual({ year: 2022, week: 52 });
    expect(isoWeek(2023, 6, 11)).toEqual({ year: 2023, week: 23 });
    expect(isoWeek(2023, 6, 12)).toEqual({ year: 2023, week: 24 });
  });
});

describe('applyPolicy rules', () => {
  const hours = [
    snap('2024-05-01T10:50:00Z'),
    snap('2024-05-01T10:10:00Z'),
    snap('2024-05-01T09:59:59Z'),
    snap('2024-04-30T23:00:00Z'),
    snap('2024-04-30T08:00:00Z'),
    snap('2024-04-29T08:00:00Z'),
  ];

  it('empty policy keeps everything', () => {
    const r = run(hours, {});
    expect(r.keep).toEqual(labels(hours));
    expect(r.remove).toEqual([]);
    expect(new Set(Object.values(r.reasons).map((x) => x?.join()))).toEqual(new Set(['policy is empty']));
  });

  it('sorts newest first whatever the input order, and keeps the generic type', () => {
    const shuffled = [hours[3]!, hours[0]!, hours[5]!, hours[1]!, hours[4]!, hours[2]!];
    const r = applyPolicy(shuffled, { last: 2 }, UTC);
    expectTypeOf(r.keep).toEqualTypeOf<Snap[]>();
    expect(labels(r.keep)).toEqual(labels(hours.slice(0, 2)));
    expect(labels(r.remove)).toEqual(labels(hours.slice(2)));
    expect(applyPolicy([], { last: 2 })).toEqual({ keep: [], remove: [], reasons: new Map() });
  });

  it('last', () => {
    const r = run(hours, { last: 3 });
    expect(r.keep).toEqual(labels(hours.slice(0, 3)));
    expect(r.reasons[hours[0]!.label]).toEqual(['last snapshot']);
    expect(run(hours, { last: 100 }).remove).toEqual([]);
    expect(run(hours, { last: -1 }).remove).toEqual([]);
  });

  it('hourly keeps the newest of each hour', () => {
    const r = run(hours, { hourly: 3 });
    expect(r.keep).toEqual(['2024-05-01T10:50:00Z', '2024-05-01T09:59:59Z', '2024-04-30T23:00:00Z']);
    expect(r.reasons['2024-05-01T10:50:00Z']).toEqual(['hourly snapshot']);
    expect(run(hours, { hourly: -1 }).remove).toEqual(['2024-05-01T10:10:00Z']);
  });

  it('daily', () => {
    const r = run(hours, { daily: 2 });
    expect(r.keep).toEqual(['2024-05-01T10:50:00Z', '2024-04-30T23:00:00Z']);
    expect(run(hours, { daily: -1 }).keep).toEqual(['2024-05-01T10:50:00Z', '2024-04-30T23:00:00Z', '2024-04-29T08:00:00Z']);
    expect(run(hours, { daily: 0 }).keep).toEqual(labels(hours)); // 0 alone is an empty policy
  });

  it('weekly uses ISO weeks (Monday start, week-numbering year)', () => {
    const list = [
      snap('2021-01-04T00:00:00Z'), // Mon, 2021-W01
      snap('2021-01-03T23:59:00Z'), // Sun, 2020-W53
      snap('2020-12-31T12:00:00Z'), // Thu, 2020-W53
      snap('2020-12-28T00:00:00Z'), // Mon, 2020-W53
      snap('2020-12-27T12:00:00Z'), // Sun, 2020-W52
    ];
    const r = run(list, { weekly: 3 });
    expect(r.keep).toEqual(['2021-01-04T00:00:00Z', '2021-01-03T23:59:00Z', '2020-12-27T12:00:00Z']);
    expect(r.reasons['2020-12-27T12:00:00Z']).toEqual(['weekly snapshot']);
  });

  it('monthly and yearly', () => {
    const list = [
      snap('2024-03-01T00:00:00Z'), snap('2024-02-29T00:00:00Z'), snap('2024-02-01T00:00:00Z'),
      snap('2023-12-31T23:59:59Z'), snap('2023-01-01T00:00:00Z'), snap('2022-06-01T00:00:00Z'),
    ];
    expect(run(list, { monthly: 3 }).keep).toEqual(['2024-03-01T00:00:00Z', '2024-02-29T00:00:00Z', '2023-12-31T23:59:59Z']);
    const y = run(list, { yearly: 5 });
    expect(y.keep).toEqual(['2024-03-01T00:00:00Z', '2023-12-31T23:59:59Z', '2022-06-01T00:00:00Z']);
    expect(y.reasons['2022-06-01T00:00:00Z']).toEqual(['yearly snapshot']);
  });

  it('each rule counts only its own keeps; reasons are listed in restic order', () => {
    const list = [
      snap('2024-05-02T10:00:00Z', { tags: ['a', 'b'] }),
      snap('2024-05-02T09:00:00Z'),
      snap('2024-05-01T10:00:00Z', { tags: ['b'] }),
      snap('2024-04-01T10:00:00Z'),
      snap('2023-04-01T10:00:00Z', { tags: ['a', 'b', 'c'] }),
    ];
    const r = run(list, { last: 1, hourly: 1, daily: 2, monthly: 2, yearly: 9, within: '1d', withinDaily: '2d', tags: [['b'], ['a', 'b']] });
    expect(r.keep).toEqual(['2024-05-02T10:00:00Z', '2024-05-02T09:00:00Z', '2024-05-01T10:00:00Z', '2024-04-01T10:00:00Z',
      '2023-04-01T10:00:00Z']);
    expect(r.reasons).toEqual({
      '2024-05-02T10:00:00Z': ['has tags [b]', 'has tags [a, b]', 'within 1d', 'last snapshot', 'hourly snapshot',
        'daily snapshot', 'monthly snapshot', 'yearly snapshot', 'daily within 2d'],
      '2024-05-02T09:00:00Z': ['within 1d'],
      '2024-05-01T10:00:00Z': ['has tags [b]', 'daily snapshot', 'daily within 2d'],
      '2024-04-01T10:00:00Z': ['monthly snapshot'],
      '2023-04-01T10:00:00Z': ['has tags [b]', 'has tags [a, b]', 'yearly snapshot'],
    });
  });

  it('within is relative to the newest snapshot (not now), strictly after the cutoff', () => {
    const list = [
      snap('2024-05-10T12:00:00Z'),
      snap('2024-05-08T12:00:01Z'),
      snap('2024-05-08T12:00:00Z'), // exactly 2d before the newest: not within
      snap('2024-05-01T00:00:00Z'),
    ];
    const r = run(list, { within: '2d' });
    expect(r.keep).toEqual(['2024-05-10T12:00:00Z', '2024-05-08T12:00:01Z']);
    expect(r.reasons['2024-05-08T12:00:01Z']).toEqual(['within 2d']);
    expect(run(list, { within: '1d23h' }).keep).toEqual(['2024-05-10T12:00:00Z']);
    expect(run(list, { within: '1m' }).remove).toEqual([]); // m = months
    expect(run(list, { within: '2d' }, { now: new Date('2099-01-01T00:00:00Z'), timeZone: 'UTC' }).keep)
      .toEqual(['2024-05-10T12:00:00Z', '2024-05-08T12:00:01Z']);
    expect(run(list, { within: '-1d' }).keep).toEqual([]);
    expect(run(list, { within: withinDays(9).within }).keep).toEqual(labels(list.slice(0, 3)));
  });

  it('within ignores snapshots in the future when finding the newest', () => {
    const list = [snap('2024-05-20T00:00:00Z'), snap('2024-05-10T12:00:00Z'), snap('2024-05-09T13:00:00Z'), snap('2024-05-01T00:00:00Z')];
    const now = new Date('2024-05-15T00:00:00Z');
    expect(run(list, { within: '1d' }, { now, timeZone: 'UTC' }).keep)
      .toEqual(['2024-05-20T00:00:00Z', '2024-05-10T12:00:00Z', '2024-05-09T13:00:00Z']);
    // all in the future: Go's zero time is "latest", so everything is within
    expect(run(list, { within: '1d' }, { now: new Date('2000-01-01T00:00:00Z'), timeZone: 'UTC' }).remove).toEqual([]);
  });

  it('within uses calendar arithmetic with Go AddDate normalisation', () => {
    // 2024-03-31 minus 1 month = "2024-02-31" = 2024-03-02
    const list = [snap('2024-03-31T12:00:00Z'), snap('2024-03-02T12:00:01Z'), snap('2024-03-02T12:00:00Z'), snap('2024-02-29T13:00:00Z')];
    expect(run(list, { within: '1m' }).keep).toEqual(['2024-03-31T12:00:00Z', '2024-03-02T12:00:01Z']);
    // 2024-02-29 minus 1 year = "2023-02-29" = 2023-03-01
    const leap = [snap('2024-02-29T00:00:00Z'), snap('2023-03-01T00:00:01Z'), snap('2023-03-01T00:00:00Z')];
    expect(run(leap, { within: '1y' }).keep).toEqual(['2024-02-29T00:00:00Z', '2023-03-01T00:00:01Z']);
    // hours are subtracted after the date part
    const h = [snap('2024-03-01T05:00:00Z'), snap('2024-02-29T03:00:01Z'), snap('2024-02-29T03:00:00Z')];
    expect(run(h, { within: '1d2h' }).keep).toEqual(['2024-03-01T05:00:00Z', '2024-02-29T03:00:01Z']);
  });

  it('within-bucket rules keep the newest per bucket inside the window, without a count', () => {
    const list = [
      snap('2024-05-10T12:00:00Z'), snap('2024-05-10T08:00:00Z'), snap('2024-05-09T20:00:00Z'),
      snap('2024-05-09T10:00:00Z'), snap('2024-05-08T12:00:00Z'), snap('2024-04-20T00:00:00Z'),
      snap('2023-12-01T00:00:00Z'), snap('2022-12-01T00:00:00Z'),
    ];
    const d = run(list, { withinDaily: '2d' });
    expect(d.keep).toEqual(['2024-05-10T12:00:00Z', '2024-05-09T20:00:00Z']);
    expect(d.reasons['2024-05-09T20:00:00Z']).toEqual(['daily within 2d']);
    expect(run(list, { withinHourly: '1d' }).keep)
      .toEqual(['2024-05-10T12:00:00Z', '2024-05-10T08:00:00Z', '2024-05-09T20:00:00Z']);
    expect(run(list, { withinWeekly: '1m' }).keep).toEqual(['2024-05-10T12:00:00Z', '2024-04-20T00:00:00Z']);
    expect(run(list, { withinMonthly: '5m' }).keep).toEqual(['2024-05-10T12:00:00Z', '2024-04-20T00:00:00Z']);
    expect(run(list, { withinMonthly: '6m' }).keep)
      .toEqual(['2024-05-10T12:00:00Z', '2024-04-20T00:00:00Z', '2023-12-01T00:00:00Z']);
    const y = run(list, { withinYearly: '2y' });
    expect(y.keep).toEqual(['2024-05-10T12:00:00Z', '2023-12-01T00:00:00Z', '2022-12-01T00:00:00Z']);
    expect(y.reasons['2022-12-01T00:00:00Z']).toEqual(['yearly within 2y']);
  });

  it('keep tags: all tags of one list; "" matches untagged; [] matches all', () => {
    const list = [
      snap('2024-05-05T00:00:00Z', { tags: ['a'] }),
      snap('2024-05-04T00:00:00Z', { tags: ['b', 'a'] }),
      snap('2024-05-03T00:00:00Z'),
      snap('2024-05-02T00:00:00Z', { tags: [] }),
      snap('2024-05-01T00:00:00Z', { tags: ['c'] }),
    ];
    const r = run(list, { tags: [['a', 'b'], ['c']] });
    expect(r.keep).toEqual(['2024-05-04T00:00:00Z', '2024-05-01T00:00:00Z']);
    expect(r.reasons['2024-05-04T00:00:00Z']).toEqual(['has tags [a, b]']);
    const u = run(list, { tags: [parseTagList('')] });
    expect(u.keep).toEqual(['2024-05-03T00:00:00Z', '2024-05-02T00:00:00Z']);
    expect(u.reasons['2024-05-03T00:00:00Z']).toEqual(['has tags []']);
    const all = run(list, { tags: [[]] });
    expect(all.remove).toEqual([]);
    expect(hasTags({ tags: ['x'] }, ['', 'x'])).toBe(false);
    expect(hasTags({}, ['', 'x'])).toBe(true); // restic returns early on "" for untagged snapshots
  });

  it('equal times keep their input order', () => {
    const a = snap('2024-05-01T00:00:00Z');
    const b = snap('2024-05-01T00:00:00Z');
    expect(applyPolicy([a, b], { daily: 1 }, UTC).keep).toEqual([a]);
    expect(applyPolicy([b, a], { daily: 1 }, UTC).keep).toEqual([b]);
  });

  it('rejects invalid times and time zones', () => {
    expect(() => applyPolicy([{ ...snap('2024-05-01T00:00:00Z'), time: new Date(NaN) }], { last: 1 })).toThrow(PolicyError);
    expect(() => applyPolicy([], { last: 1 }, { timeZone: 'Mars/Olympus' })).toThrow(/unknown time zone/);
  });
});

describe('time zones', () => {
  it('buckets by the offset stored with each snapshot, not by UTC or the process zone', () => {
    // 2024-03-31T22:30Z written in Berlin is 2024-04-01 00:30 on the snapshot's clock.
    const list = [snap('2024-03-31T23:00:00Z'), snap('2024-04-01T00:30:00+02:00'), snap('2024-03-31T21:00:00Z')];
    for (const timeZone of ['UTC', 'Asia/Tokyo', 'America/New_York']) {
      expect(run(list, { daily: 3 }, { now: NOW, timeZone }).keep, timeZone)
        .toEqual(['2024-03-31T23:00:00Z', '2024-04-01T00:30:00+02:00', '2024-03-31T21:00:00Z']);
      expect(run(list, { monthly: 3 }, { now: NOW, timeZone }).keep, timeZone)
        .toEqual(['2024-03-31T23:00:00Z', '2024-04-01T00:30:00+02:00', '2024-03-31T21:00:00Z']);
    }
    // without a stored offset the options' zone (default: the process's) decides
    const bare = list.map((s) => ({ ...s, timeOffsetMinutes: undefined }));
    expect(run(bare, { daily: 3 }, { now: NOW, timeZone: 'UTC' }).keep).toEqual(['2024-03-31T23:00:00Z']);
    // in Berlin the two newest are on April 1st, the oldest on March 31st
    expect(run(bare, { daily: 3 }, { now: NOW, timeZone: 'Europe/Berlin' }).keep)
      .toEqual(['2024-03-31T23:00:00Z', '2024-03-31T21:00:00Z']);
  });

  it('defaults to the process zone (TZ)', () => {
    const list = [snap('2024-05-02T01:00:00Z'), snap('2024-05-01T23:00:00Z')].map((s) => ({ ...s, timeOffsetMinutes: undefined }));
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'UTC';
      expect(applyPolicy(list, { daily: 2 }, { now: NOW }).keep).toHaveLength(2);
      process.env.TZ = 'America/New_York'; // both are 2024-05-01 evening there
      expect(applyPolicy(list, { daily: 2 }, { now: NOW }).keep).toHaveLength(1);
    } finally {
      process.env.TZ = saved;
    }
    expect(new Date(0).getTimezoneOffset()).toBe(0);
  });

  it('within across a DST change: calendar days in the zone when the newest snapshot is in it (Go Local)', () => {
    // Europe/Berlin switched to +02:00 on 2024-03-31. 2024-04-02 12:00+02:00 minus 3 days is
    // 2024-03-30 12:00 local = 11:00Z in Berlin's rules, but 10:00Z with the fixed +02:00 offset.
    const list = [snap('2024-04-02T12:00:00+02:00'), snap('2024-03-30T11:30:00+01:00')];
    expect(run(list, { within: '3d' }, { now: NOW, timeZone: 'Europe/Berlin' }).keep).toEqual(['2024-04-02T12:00:00+02:00']);
    expect(run(list, { within: '3d' }, { now: NOW, timeZone: 'UTC' }).keep).toEqual(labels(list));
    // hours are absolute: 72h before 12:00+02:00 is 10:00Z in either case
    expect(run(list, { within: '72h' }, { now: NOW, timeZone: 'Europe/Berlin' }).keep).toEqual(labels(list));
  });
});

describe('groupSnapshots / planForget', () => {
  const list = [
    snap('2024-05-05T00:00:00Z', { hostname: 'a', paths: ['/x', '/y'], tags: ['t2', 't1'] }),
    snap('2024-05-04T00:00:00Z', { hostname: 'a', paths: ['/y', '/x'], tags: ['t1', 't2'] }),
    snap('2024-05-03T00:00:00Z', { hostname: 'a', paths: ['/x'] }),
    snap('2024-05-02T00:00:00Z', { hostname: 'b', paths: ['/x'], tags: [] }),
    snap('2024-05-01T00:00:00Z', { hostname: 'b', paths: ['/x'], tags: ['t1'] }),
  ];

  it('groups by host and sorted paths by default', () => {
    const g = groupSnapshots(list);
    expect(g.map((x) => x.key)).toEqual([
      { hostname: 'a', paths: ['/x'], tags: null },
      { hostname: 'a', paths: ['/x', '/y'], tags: null },
      { hostname: 'b', paths: ['/x'], tags: null },
    ]);
    expect(g.map((x) => x.snapshots.length)).toEqual([1, 2, 2]);
    expect(list[1]!.paths).toEqual(['/y', '/x']); // inputs are not mutated
  });

  it('groups by any combination, or not at all', () => {
    expect(groupSnapshots(list, parseGroupBy('tags')).map((x) => [x.key, x.snapshots.length])).toEqual([
      [{ hostname: '', paths: null, tags: null }, 2],
      [{ hostname: '', paths: null, tags: ['t1'] }, 1],
      [{ hostname: '', paths: null, tags: ['t1', 't2'] }, 2],
    ]);
    expect(groupSnapshots(list, parseGroupBy('host')).map((x) => x.snapshots.length)).toEqual([3, 2]);
    expect(groupSnapshots(list, parseGroupBy('')).map((x) => x.snapshots.length)).toEqual([5]);
    expect(groupSnapshots([])).toEqual([]);
  });

  it('planForget applies the policy per group', () => {
    const plan = planForget(list, { last: 1 }, { ...UTC, groupBy: parseGroupBy('host') });
    expect(plan.map((g) => [g.key.hostname, labels(g.keep), labels(g.remove)])).toEqual([
      ['a', ['2024-05-05T00:00:00Z'], ['2024-05-04T00:00:00Z', '2024-05-03T00:00:00Z']],
      ['b', ['2024-05-02T00:00:00Z'], ['2024-05-01T00:00:00Z']],
    ]);
    expect(() => planForget(list, { last: -5 })).toThrow(PolicyError);
  });
});

// ---------------------------------------------------------------------------------------------
// Interoperability with the real restic binary

const RESTIC = process.env.RESTIC_BIN ?? 'restic';
const PASSWORD = 'coffer-forget-policy-test';

function resticVersion(): string | null {
  try {
    return execFileSync(RESTIC, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const version = resticVersion();
if (version === null && !process.env.CI) {
  console.warn(`forget-policy interop test skipped: no restic binary (${RESTIC}) found`);
}

interface ResticSnapshotJSON {
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[];
}

interface ResticForgetGroupJSON {
  tags: string[] | null;
  host: string;
  paths: string[] | null;
  keep: ResticSnapshotJSON[] | null;
  remove: ResticSnapshotJSON[] | null;
  reasons: { snapshot: { time: string }; matches: string[] }[] | null;
}

describe.skipIf(version === null && !process.env.CI)('restic forget interoperability', () => {
  let root = '';
  let repo = '';
  let snapshots: (PolicySnapshot & { short: string })[] = [];

  function restic(args: string[], tz = 'UTC'): string {
    return execFileSync(RESTIC, args, {
      encoding: 'utf8',
      env: { ...process.env, TZ: tz, RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(root, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  /**
   * restic calibrates scrypt to ~0.5 s per command; re-seal the master key under cheap parameters
   * (as restic's own tests do) so the many commands below stay fast. Best effort: on any failure the
   * original key file stays and the test is merely slower.
   */
  async function cheapenKey(): Promise<void> {
    const dir = join(repo, 'keys');
    const [name] = readdirSync(dir);
    const original = readFileSync(join(dir, name!), 'utf8');
    let written: string | null = null;
    try {
      const { keyFromBytes, open, seal } = await import('./crypto.js');
      const kf = JSON.parse(original) as { N: number; r: number; p: number; salt: string; data: string };
      const derive = (salt: Buffer, N: number, r: number, p: number) =>
        keyFromBytes(scryptSync(PASSWORD, salt, 64, { N, r, p, maxmem: 128 * N * r * p + 64 * 1024 * 1024 }));
      const master = open(derive(Buffer.from(kf.salt, 'base64'), kf.N, kf.r, kf.p), Buffer.from(kf.data, 'base64'));
      const salt = randomBytes(64);
      const cheap = { ...kf, N: 1024, r: 8, p: 1, salt: salt.toString('base64'),
        data: seal(derive(salt, 1024, 8, 1), master).toString('base64') };
      const text = JSON.stringify(cheap);
      const id = createHash('sha256').update(text).digest('hex');
      writeFileSync(join(dir, id), text, { mode: 0o400 });
      written = id;
      unlinkSync(join(dir, name!));
      restic(['cat', 'config', '--no-cache']);
    } catch (e) {
      console.warn(`forget-policy interop: keeping restic's slow key (${String(e)})`);
      if (written !== null) rmSync(join(dir, written), { force: true });
      writeFileSync(join(dir, name!), original, { mode: 0o400 });
    }
  }

  beforeAll(async () => {
    if (version === null) throw new Error(`restic binary (${RESTIC}) not found, but CI is set`);
    root = mkdtempSync(join(tmpdir(), 'coffer-forget-'));
    repo = join(root, 'repo');
    const dir = join(root, 'data');
    const dir2 = join(root, 'data2');
    mkdirSync(dir);
    mkdirSync(dir2);
    writeFileSync(join(dir, 'f'), 'hello');
    writeFileSync(join(dir2, 'g'), 'world');
    restic(['init', '-q']);
    await cheapenKey();

    // [zone the backup runs in, local time, tags, host, paths]
    const B = 'Europe/Berlin';
    const plan: [string, string, string?, string?, string[]?][] = [
      ['UTC', '2022-03-15 10:00:00'],
      ['UTC', '2022-12-31 23:00:00', 'monthly'],
      ['UTC', '2023-01-01 00:30:00'],
      ['UTC', '2023-06-10 08:00:00', 'a'],
      ['UTC', '2023-06-10 08:45:00', 'a,b'],
      ['UTC', '2023-06-10 09:10:00'],
      ['UTC', '2023-06-11 12:00:00', 'b'], // Sunday, ISO week 23
      ['UTC', '2023-06-12 12:00:00'], // Monday, week 24
      ['UTC', '2023-12-31 12:00:00', 'b,a'], // Sunday, 2023-W52
      ['UTC', '2024-01-01 12:00:00'], // Monday, 2024-W01
      ['UTC', '2024-02-29 12:00:00'],
      ['UTC', '2024-03-30 12:00:00', 'daily'],
      [B, '2024-03-31 01:30:00'], // +01:00, before the DST change
      [B, '2024-03-31 03:30:00', 'daily'], // +02:00
      [B, '2024-04-01 00:30:00'], // = 2024-03-31T22:30Z, but April 1st on its own clock
      ['UTC', '2024-03-31 23:00:00'],
      ['Asia/Kolkata', '2024-04-30 23:50:00', 'a,b'], // = 18:20Z
      ['UTC', '2024-05-01 10:00:00'],
      ['UTC', '2024-04-15 09:00:00', undefined, 'g'],
      ['UTC', '2024-05-01 11:00:00', 'a', 'g'],
      ['UTC', '2024-05-02 08:00:00', undefined, 'h', [dir2]],
      ['UTC', '2024-05-03 08:00:00', undefined, 'h', [dir2, dir]],
      ['UTC', '2024-05-04 08:00:00', 'b', 'h', [dir, dir2]],
      // host k: the newest snapshot is in Berlin summer time; 3 days earlier is winter time
      [B, '2024-04-02 12:00:00', undefined, 'k'],
      [B, '2024-03-30 12:30:00', undefined, 'k'],
      [B, '2024-03-30 11:30:00', undefined, 'k'],
    ];
    for (const [tz, time, tags, host, paths] of plan) {
      const args = ['backup', '-q', '--no-cache', '--host', host ?? 'h', '--time', time];
      if (tags !== undefined) args.push('--tag', tags);
      restic([...args, ...(paths ?? [dir])], tz);
    }

    const list = JSON.parse(restic(['snapshots', '--json', '--no-cache'])) as ResticSnapshotJSON[];
    expect(list).toHaveLength(plan.length);
    snapshots = list.map((s) => ({
      id: s.id,
      short: s.short_id,
      time: new Date(s.time),
      timeOffsetMinutes: timeOffsetOf(s.time),
      hostname: s.hostname,
      paths: s.paths,
      tags: s.tags,
    }));
    expect(new Set(snapshots.map((s) => s.timeOffsetMinutes))).toEqual(new Set([0, 60, 120, 330]));
  }, 120_000);

  afterAll(() => {
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  /** Runs `restic forget --dry-run --json` and our planForget, and compares them group by group. */
  function compare(flags: string[], policy: ForgetPolicy, groupBy = 'host,paths', tz = 'UTC',
    only: (s: PolicySnapshot) => boolean = () => true): number {
    const out = restic(['forget', '--no-cache', '--dry-run', '--json', '--group-by', groupBy, ...flags], tz).trim();
    const theirs = (out === '' ? [] : JSON.parse(out)) as ResticForgetGroupJSON[];
    const ours = planForget(snapshots.filter(only), policy, { groupBy: parseGroupBy(groupBy), timeZone: tz });

    const keyOf = (host: string, paths: string[] | null, tags: string[] | null) => JSON.stringify([host, paths, tags]);
    const mine = new Map(ours.map((g) => [keyOf(g.key.hostname, g.key.paths, g.key.tags), g]));
    expect(theirs.length, `groups for ${flags.join(' ')}`).toBe(ours.length);
    let removed = 0;
    for (const g of theirs) {
      const key = keyOf(g.host, g.paths, g.tags);
      const m = mine.get(key);
      expect(m, `group ${key}`).toBeDefined();
      const what = `${flags.join(' ')} / group ${key}`;
      const keep = (g.keep ?? []).map((s) => s.id);
      expect(m!.keep.map((s) => s.id), `keep: ${what}`).toEqual(keep);
      expect(m!.remove.map((s) => s.id), `remove: ${what}`).toEqual((g.remove ?? []).map((s) => s.id));
      // restic's reasons are in the order of keep (their embedded snapshot carries no id)
      const reasons = g.reasons ?? [];
      expect(reasons.map((r) => r.snapshot.time)).toEqual((g.keep ?? []).map((s) => s.time));
      expect(m!.keep.map((s) => m!.reasons.get(s)), `reasons: ${what}`).toEqual(reasons.map((r) => r.matches));
      removed += m!.remove.length;
    }
    return removed;
  }

  const cases: [string, string[], ForgetPolicy, string?][] = [
    ['last', ['--keep-last', '3'], { last: 3 }],
    ['hourly', ['--keep-hourly', '5'], { hourly: 5 }],
    ['daily', ['--keep-daily', '6'], { daily: 6 }],
    ['weekly', ['--keep-weekly', '5'], { weekly: 5 }],
    ['monthly+yearly', ['--keep-monthly', '6', '--keep-yearly', '3'], { monthly: 6, yearly: 3 }],
    ['within', ['--keep-within', '1m5d'], { within: '1m5d' }],
    ['within 3d (DST)', ['--keep-within', '3d'], { within: '3d' }],
    ['within buckets', ['--keep-within-hourly', '3d', '--keep-within-daily', '2m', '--keep-within-weekly', '6m',
      '--keep-within-monthly', '1y', '--keep-within-yearly', '3y'],
    { withinHourly: '3d', withinDaily: '2m', withinWeekly: '6m', withinMonthly: '1y', withinYearly: '3y' }],
    ['tags', ['--keep-tag', 'a,b', '--keep-tag', 'daily', '--keep-tag', '', '--keep-last', '1'],
      { tags: [['a', 'b'], ['daily'], ['']], last: 1 }],
    ['everything', ['-l', '2', '-H', '2', '-d', '3', '-w', '2', '-m', '2', '-y', '2', '--keep-within', '10d',
      '--keep-within-daily', '20d', '--keep-tag', 'monthly'],
    { last: 2, hourly: 2, daily: 3, weekly: 2, monthly: 2, yearly: 2, within: '10d', withinDaily: '20d', tags: [['monthly']] }],
    ['group by host', ['--keep-daily', '4'], { daily: 4 }, 'host'],
    ['group by tags', ['--keep-last', '1', '--keep-monthly', '2'], { last: 1, monthly: 2 }, 'tags'],
    ['no grouping', ['--keep-weekly', '3', '--keep-within', '2d'], { weekly: 3, within: '2d' }, ''],
    ['group by host,paths,tags', ['--keep-yearly', '1'], { yearly: 1 }, 'host,paths,tags'],
  ];

  for (const [name, flags, policy, groupBy] of cases) {
    it(`agrees with restic forget: ${name}`, () => {
      const removed = compare(flags, policy, groupBy);
      expect(removed, 'the policy should remove something, or the comparison says little').toBeGreaterThan(0);
    });
  }

  it('agrees with restic forget under another process zone (DST corner of --keep-within)', () => {
    // In Berlin, restic attaches Local to host k's +02:00/+01:00 times, so "3d" is calendar days there.
    expect(compare(['--keep-within', '3d', '--host', 'k'], { within: '3d' }, 'host', 'Europe/Berlin', (s) => s.hostname === 'k'))
      .toBe(1);
    const k = snapshots.filter((s) => s.hostname === 'k');
    const berlin = applyPolicy(k, { within: '3d' }, { timeZone: 'Europe/Berlin' });
    const utc = applyPolicy(k, { within: '3d' }, { timeZone: 'UTC' });
    expect(berlin.keep.length).toBe(2);
    expect(utc.keep.length).toBe(3);
  });

  it('prints nothing for an empty policy, like isEmptyPolicy says', () => {
    expect(isEmptyPolicy({ within: '0d' })).toBe(true);
    expect(restic(['forget', '--no-cache', '--dry-run', '--json', '--keep-within', '0d']).trim()).toBe('');
  });
});
