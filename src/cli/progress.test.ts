import { describe, expect, it } from 'vitest';
import { type ProgressSnapshot, estimateRemaining, formatProgressLine, shortenMiddle } from './progress.js';
import { formatTable, plural } from './format.js';

const MiB = 1024 * 1024;
const midway: ProgressSnapshot = { filesDone: 120, filesTotal: 300, bytesDone: 400 * MiB, bytesTotal: 1000 * MiB, currentFile: '/home/user/photos/2026/holiday/IMG_20260801_123456.jpg' };

/** Every token of `line` is a whole token of the full line: nothing was cut in the middle. */
function tokensOf(line: string): string[] {
  return line.split(/\s+/).map((t) => t.replace(/,$/, '')).filter(Boolean);
}

describe('formatProgressLine', () => {
  it('shows everything when the terminal is wide', () => {
    const line = formatProgressLine('backed up', midway, 40, 200);
    expect(line).toBe('[0:40] 40.0% backed up 120/300 files, 400.00 MiB/1000.00 MiB, 10.00 MiB/s, ETA 1:00  /home/user/photos/2026/holiday/IMG_20260801_123456.jpg');
  });

  for (const width of [120, 100, 90, 80, 72, 60, 50, 40, 30, 20, 10]) {
    it(`fits ${width} columns without cutting a token`, () => {
      const full = formatProgressLine('backed up', midway, 40, 1000);
      const line = formatProgressLine('backed up', midway, 40, width);
      expect(line.length).toBeLessThanOrEqual(width - 1);
      const whole = new Set(tokensOf(full));
      // The file name may be shortened in the middle (with …); every other token is whole.
      for (const t of tokensOf(line)) if (!t.includes('…')) expect(whole.has(t), `${t} in ${JSON.stringify(line)}`).toBe(true);
    });
  }

  it('drops the ETA first, then the rate, before the file name gets too short', () => {
    const noFile = { ...midway, currentFile: undefined };
    const full = formatProgressLine('backed up', noFile, 40, 1000);
    expect(full).toContain('ETA');
    const withoutEta = formatProgressLine('backed up', noFile, 40, full.length);
    expect(withoutEta).not.toContain('ETA');
    expect(withoutEta).toContain('MiB/s');
    const withoutRate = formatProgressLine('backed up', noFile, 40, withoutEta.length);
    expect(withoutRate).not.toContain('/s');
    expect(withoutRate).toContain('120/300 files');
  });

  it('shortens the current file in the middle, keeping its start and end', () => {
    const line = formatProgressLine('backed up', midway, 40, 110);
    expect(line).toContain('ETA 1:00');
    expect(line).toMatch(/ \/home\/user.*….*\.jpg$/);
    expect(line.length).toBe(109);
  });

  it('shows no ETA before enough time has passed or enough bytes are done', () => {
    expect(formatProgressLine('backed up', midway, 2, 200)).not.toContain('ETA');
    const barelyStarted = { ...midway, bytesDone: 1024 };
    expect(formatProgressLine('backed up', barelyStarted, 30, 200)).not.toContain('ETA');
    expect(estimateRemaining(barelyStarted, 30)).toBeUndefined();
    expect(estimateRemaining(midway, 40)).toBe(60);
    expect(estimateRemaining({ ...midway, bytesDone: midway.bytesTotal! }, 40)).toBeUndefined();
  });

  it('shows no rate in the first second', () => {
    expect(formatProgressLine('restored', { filesDone: 0, bytesDone: 0 }, 0.2, 200)).toBe('[0:00] restored 0 files, 0 B');
  });

  it('says 1 file and 1 error, 2 files and 2 errors', () => {
    expect(formatProgressLine('backed up', { filesDone: 1, bytesDone: 10, errors: 1 }, 0, 200)).toBe('[0:00] backed up 1 file, 10 B, 1 error');
    expect(formatProgressLine('backed up', { filesDone: 2, bytesDone: 10, errors: 2 }, 0, 200)).toBe('[0:00] backed up 2 files, 10 B, 2 errors');
    expect(formatProgressLine('restored', { filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 5 }, 0, 200)).toBe('[0:00] 0.0% restored 0/1 file, 0 B/5 B');
  });

  it('keeps the counts on a very narrow terminal', () => {
    expect(formatProgressLine('backed up', midway, 40, 30)).toBe('backed up 120/300 files');
    expect(formatProgressLine('backed up', midway, 40, 5)).toBe('');
  });
});

describe('shortenMiddle', () => {
  it('keeps short text and cuts long text in the middle', () => {
    expect(shortenMiddle('abc', 5)).toBe('abc');
    expect(shortenMiddle('abcdefghij', 5)).toBe('ab…ij');
    expect(shortenMiddle('abcdefghij', 6)).toBe('ab…hij');
  });
});

describe('plural and formatTable', () => {
  it('counts in words', () => {
    expect(plural(0, 'snapshot')).toBe('0 snapshots');
    expect(plural(1, 'snapshot')).toBe('1 snapshot');
    expect(plural(2, 'index', 'indexes')).toBe('2 indexes');
  });

  it('draws restic\'s table: padded columns, separators, multi-line cells, footer', () => {
    expect(formatTable(['ID', 'Paths'], [['a', '/x\n/yy'], ['bb', '/z']], { footer: ['2 things'], blankBetweenRows: true })).toEqual([
      'ID  Paths',
      '---------',
      'a   /x',
      '    /yy',
      '',
      'bb  /z',
      '---------',
      '2 things',
    ]);
  });
});
