/**
 * The one logger of `coffer serve`: pino (https://getpino.io), writing every line of the server
 * (core, HTTP, MQTT, start-up, faults) to stdout, as JSON lines or, for a person at a terminal,
 * as one readable line per event. Levels are words (`"level":"info"`), times ISO 8601.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogFormat } from './serve-config.js';

/**
 * Field names whose values are credentials, wherever a line carries them: replaced before the line
 * is written. URLs are masked where they are logged (see src/api/plugins/log-redaction.ts and the
 * MQTT adapter's safeUrl); this is the net under every other field.
 */
const SECRET_FIELDS = ['password', 'apiKey', 'api_key', 'token', 'secret', 'sealed', 'authorization', 'x-api-key', 'cookie'];
const REDACT_PATHS = [...SECRET_FIELDS.map((f) => `["${f}"]`), ...SECRET_FIELDS.map((f) => `*["${f}"]`), 'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'];

export interface ServerLogOptions {
  level: string;
  format: LogFormat;
  /** Where lines go; default stdout. */
  out?: DestinationStream;
}

/** The default format: readable at a terminal, JSON lines for anything that reads them (a file, a pipe, a log collector). */
export function defaultLogFormat(stdoutIsTerminal = process.stdout.isTTY === true): LogFormat {
  return stdoutIsTerminal ? 'pretty' : 'json';
}

export function createServerLogger(o: ServerLogOptions): Logger {
  const out = o.out ?? pino.destination({ dest: 1, sync: true });
  const stream: DestinationStream = o.format === 'pretty' ? { write: (line: string) => void out.write(prettyLine(line)) } : out;
  return pino({
    level: o.level,
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }, stream);
}

/**
 * Lines meant for a person whatever the level: the address the server listens on, and the admin's
 * credentials made on a first start. They carry `notice` and pass every level, `silent` included,
 * since credentials not shown then are never shown again.
 */
export function noticeLogger(logger: Logger): Logger {
  return logger.child({}, { level: 'info' });
}

/** Fields that the readable line shows in its own place or leaves out. */
const SHOWN_APART = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'err', 'notice', 'req', 'res']);

/** One JSON line as a readable one: `TIME LEVEL [component] message key=value… err="…"`; the credentials notice as a framed block. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const msg = String(rec['msg'] ?? '');
  if (rec['notice'] === 'credentials') return banner(msg);
  const head = `${String(rec['time'] ?? '')} ${String(rec['level'] ?? '').toUpperCase().padEnd(5)}${rec['component'] ? ` [${String(rec['component'])}]` : ''} ${msg}`;
  // Fields the message already says are not repeated.
  const fields = Object.entries(rec).filter(([k, v]) => !SHOWN_APART.has(k) && v !== null && v !== undefined && !msg.includes(String(v))).map(([k, v]) => `${k}=${shown(v)}`);
  const err = rec['err'] as { message?: unknown } | undefined;
  if (err !== undefined) fields.push(`err=${JSON.stringify(typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : err)}`);
  return `${[head, ...fields].join(' ')}\n`;
}

function shown(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The credentials notice, framed so that it stands out among the log lines. */
function banner(msg: string): string {
  const lines = msg.split('\n');
  const rule = '='.repeat(Math.min(100, Math.max(...lines.map((l) => l.length)) + 4));
  return `${rule}\n${lines.map((l) => `  ${l}`).join('\n')}\n${rule}\n`;
}
