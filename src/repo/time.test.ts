import { describe, expect, it } from 'vitest';
import { formatTimeNs, parseTimeNs, parseTimeSpec, timeSpecFromNs } from './time.js';

describe('parseTimeSpec', () => {
  it('reads RFC 3339 exactly into seconds and nanoseconds, in any zone and fraction length', () => {
    expect(parseTimeSpec('2023-11-14T22:13:20.123456789Z')).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect(parseTimeSpec('2023-11-15T00:13:20.123456789+02:00')).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect(parseTimeSpec('2023-11-14T16:43:20.5-05:30')).toEqual({ sec: 1_700_000_000, nsec: 500_000_000 });
    expect(parseTimeSpec('2023-11-14T22:13:20Z')).toEqual({ sec: 1_700_000_000, nsec: 0 });
    expect(parseTimeSpec('2023-11-14T22:13:20.000000001Z')).toEqual({ sec: 1_700_000_000, nsec: 1 });
    expect(parseTimeSpec('1969-12-31T23:59:59.25Z')).toEqual({ sec: -1, nsec: 250_000_000 });
  });

  it('falls back to Date.parse for other forms, whole milliseconds then', () => {
    expect(parseTimeSpec('Tue, 14 Nov 2023 22:13:20 GMT')).toEqual({ sec: 1_700_000_000, nsec: 0 });
    expect(parseTimeSpec('1969-12-31T23:59:59.750')).toMatchObject({ nsec: 750_000_000 });
    expect(() => parseTimeSpec('yesterday')).toThrow(/invalid timestamp/);
  });

  it('agrees with parseTimeNs, and timeSpecFromNs inverts it, before 1970 too', () => {
    for (const s of ['2023-11-14T22:13:20.123456789Z', '1969-07-20T20:17:40.5Z', '1900-01-01T00:00:00.000000001+01:00']) {
      const { sec, nsec } = parseTimeSpec(s);
      expect(BigInt(sec) * 1_000_000_000n + BigInt(nsec)).toBe(parseTimeNs(s));
      expect(timeSpecFromNs(parseTimeNs(s))).toEqual({ sec, nsec });
      expect(parseTimeNs(formatTimeNs(parseTimeNs(s)))).toBe(parseTimeNs(s));
    }
  });
});
