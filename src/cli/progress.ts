/**
 * Progress output: a redrawn status line on a terminal (stderr), JSON lines with `--json`, and
 * nothing otherwise. Throttling lives here, never in the pipeline.
 */
export interface ProgressSnapshot {
  filesDone: number;
  bytesDone: number;
  filesTotal?: number | undefined;
  bytesTotal?: number | undefined;
  errors?: number;
  currentFile?: string | undefined;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

function formatDuration(s: number): string {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
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
    const rate = elapsed > 0 ? p.bytesDone / elapsed : 0;
    if (this.mode === 'json') {
      const fraction = p.bytesTotal ? Math.min(1, p.bytesDone / p.bytesTotal) : undefined;
      process.stdout.write(JSON.stringify({
        message_type: 'status',
        seconds_elapsed: Math.round(elapsed),
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
    let line = `[${formatDuration(elapsed)}] ${this.verb} ${p.filesDone}${p.filesTotal !== undefined ? `/${p.filesTotal}` : ''} files, ` +
      `${formatBytes(p.bytesDone)}${p.bytesTotal !== undefined ? `/${formatBytes(p.bytesTotal)}` : ''}, ${formatBytes(rate)}/s`;
    if (p.bytesTotal && rate > 0 && p.bytesDone < p.bytesTotal) line += `, ETA ${formatDuration((p.bytesTotal - p.bytesDone) / rate)}`;
    if (p.errors) line += `, ${p.errors} errors`;
    const width = process.stderr.columns ?? 100;
    process.stderr.write('\r' + line.slice(0, width - 1).padEnd(Math.min(width - 1, 100)));
    this.drawn = true;
  }

  done(): void {
    if (this.mode === 'tty' && this.drawn) process.stderr.write('\n');
  }
}
