/**
 * Progress output: a redrawn status line on a terminal (stderr), JSON lines with `--json`, and
 * nothing otherwise. Throttling lives here, never in the pipeline.
 */
import { formatBytes, formatClock, plural } from './format.js';

export interface ProgressSnapshot {
  filesDone: number;
  bytesDone: number;
  filesTotal?: number | undefined;
  bytesTotal?: number | undefined;
  errors?: number;
  currentFile?: string | undefined;
}

/** An estimate needs this much history: early rates swing wildly (caches, small files first). */
const ETA_MIN_SECONDS = 5;
const ETA_MIN_FRACTION = 0.01;
/** A file name shortened below this says too little to be worth its place. */
const MIN_FILE_CHARS = 16;

/** `abc…xyz`: the start and the end of a path stay, the middle gives way. */
export function shortenMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return text.slice(0, max);
  const tail = Math.ceil((max - 1) / 2);
  return `${text.slice(0, max - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** Seconds still to go, or undefined until enough time has passed and enough bytes are done to tell. */
export function estimateRemaining(p: ProgressSnapshot, elapsed: number): number | undefined {
  if (!p.bytesTotal || p.bytesDone <= 0 || p.bytesDone >= p.bytesTotal) return undefined;
  if (elapsed < ETA_MIN_SECONDS || p.bytesDone / p.bytesTotal < ETA_MIN_FRACTION) return undefined;
  return ((p.bytesTotal - p.bytesDone) / p.bytesDone) * elapsed;
}

/**
 * The status line, at most `width - 1` characters (the last column would wrap on some terminals),
 * never cutting a word: when it is too wide the ETA goes first, then the rate; the current file's
 * name is shortened in the middle while it keeps a useful length, and dropped after that.
 */
export function formatProgressLine(verb: string, p: ProgressSnapshot, elapsed: number, width: number): string {
  const max = Math.max(1, width - 1);
  const files = p.filesTotal !== undefined ? `${p.filesDone}/${plural(p.filesTotal, 'file')}` : plural(p.filesDone, 'file');
  const remaining = estimateRemaining(p, elapsed);
  // The line is `[clock] percent` then the parts, comma separated, then the current file.
  type Field = { key: string; text: string; head?: true };
  const all: Field[] = [
    { key: 'clock', text: `[${formatClock(elapsed)}]`, head: true },
    ...(p.bytesTotal ? [{ key: 'percent', text: `${(Math.min(1, p.bytesDone / p.bytesTotal) * 100).toFixed(1)}%`, head: true as const }] : []),
    { key: 'files', text: `${verb} ${files}` },
    { key: 'bytes', text: `${formatBytes(p.bytesDone)}${p.bytesTotal !== undefined ? `/${formatBytes(p.bytesTotal)}` : ''}` },
    ...(p.errors ? [{ key: 'errors', text: plural(p.errors, 'error') }] : []),
    ...(elapsed >= 1 ? [{ key: 'rate', text: `${formatBytes(p.bytesDone / elapsed)}/s` }] : []),
    ...(remaining !== undefined ? [{ key: 'eta', text: `ETA ${formatClock(remaining)}` }] : []),
  ];
  const join = (fields: Field[]): string =>
    [...fields.filter((f) => f.head).map((f) => f.text), fields.filter((f) => !f.head).map((f) => f.text).join(', ')].filter(Boolean).join(' ');
  let kept = all;
  for (const drop of [undefined, 'eta', 'rate']) {
    kept = kept.filter((f) => f.key !== drop);
    const line = join(kept);
    if (line.length > max) continue;
    if (!p.currentFile) return line;
    const room = max - line.length - 2;
    if (room >= Math.min(MIN_FILE_CHARS, p.currentFile.length)) return `${line}  ${shortenMiddle(p.currentFile, room)}`;
  }
  // Not even room for a shortened file name without ETA and rate: the counts matter more.
  for (const drop of ['percent', 'bytes', 'errors', 'clock']) {
    const line = join(kept);
    if (line.length <= max) return line;
    kept = kept.filter((f) => f.key !== drop);
  }
  const line = join(kept);
  return line.length <= max ? line : '';
}

export class ProgressPrinter {
  private last = 0;
  private readonly started = Date.now();
  private drawn = false;

  constructor(private readonly mode: 'tty' | 'json' | 'quiet', private readonly verb: string, private readonly intervalMs = mode === 'json' ? 1000 : 100) {}

  /** Whether a person watches: only then are totals (for an ETA) worth a second walk of the tree. */
  get interactive(): boolean {
    return this.mode === 'tty';
  }

  static for(json: boolean, verb: string): ProgressPrinter {
    return new ProgressPrinter(json ? 'json' : process.stderr.isTTY ? 'tty' : 'quiet', verb);
  }

  update(p: ProgressSnapshot, force = false): void {
    if (this.mode === 'quiet') return;
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const elapsed = (now - this.started) / 1000;
    if (this.mode === 'json') {
      const fraction = p.bytesTotal ? Math.min(1, p.bytesDone / p.bytesTotal) : undefined;
      const remaining = estimateRemaining(p, elapsed);
      process.stdout.write(JSON.stringify({
        message_type: 'status',
        seconds_elapsed: Math.round(elapsed),
        ...(remaining !== undefined ? { seconds_remaining: Math.round(remaining) } : {}),
        ...(fraction !== undefined ? { percent_done: fraction } : {}),
        ...(p.filesTotal !== undefined ? { total_files: p.filesTotal } : {}),
        files_done: p.filesDone,
        ...(p.bytesTotal !== undefined ? { total_bytes: p.bytesTotal } : {}),
        bytes_done: p.bytesDone,
        error_count: p.errors ?? 0,
        ...(p.currentFile ? { current_files: [p.currentFile] } : {}),
      }) + '\n');
      return;
    }
    // Carriage return, the line, then erase what a longer previous line left to its right.
    process.stderr.write(`\r${formatProgressLine(this.verb, p, elapsed, process.stderr.columns ?? 80)}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.mode === 'tty' && this.drawn) process.stderr.write('\n');
  }
}
