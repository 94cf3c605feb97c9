/**
 * How the command line writes numbers, sizes, durations and tables for people: one home, so every
 * command says "1 file" and "2 files" alike and draws its tables as restic draws them.
 */

/** `1 snapshot`, `2 snapshots`, `0 snapshots`; `many` for words whose plural is not `one + s`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Binary units, two decimals above a KiB: `512 B`, `1.50 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

/** A clock reading of seconds: `0:07`, `12:30`, `1:02:03`. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A time as restic's tables show it (snapshots, keys): local time, to the second (`2026-12-07 21:56:13`). */
export function formatSnapshotTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export interface TableOptions {
  /** Lines printed after the closing separator, e.g. `3 snapshots`. */
  footer?: string[];
  /** A blank line between rows: restic does so when some row spans several lines. */
  blankBetweenRows?: boolean;
}

/**
 * restic's table: columns as wide as their widest line, separated by two spaces, trailing spaces
 * trimmed, a dashed line under the header and after the last row, then the footer. A cell may
 * hold several lines (`\n`); its row then takes as many lines.
 */
export function formatTable(header: string[], rows: string[][], opts: TableOptions = {}): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.flatMap((r) => (r[i] ?? '').split('\n').map((l) => l.length))));
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const linesOf = (cells: string[]): string[] => {
    const split = cells.map((c) => c.split('\n'));
    const height = Math.max(1, ...split.map((l) => l.length));
    return Array.from({ length: height }, (_, i) => split.map((l, c) => (l[i] ?? '').padEnd(widths[c]!)).join('  ').trimEnd());
  };
  const out = [...linesOf(header), rule];
  rows.forEach((r, i) => {
    if (opts.blankBetweenRows && i > 0) out.push('');
    out.push(...linesOf(r));
  });
  out.push(rule, ...(opts.footer ?? []));
  return out;
}
