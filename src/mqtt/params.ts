/**
 * The `value` of a command, read as Kanto's Go client decodes it (docs/kanto.md): keys match
 * case-insensitively (`correlationID`, `correlationId`, `Options`), options are strings. Unlike
 * Kanto, `providers` may also be an object, as Kanto's documentation's own example sends it. Fields the value
 * does not define are ignored, not refused, as Go's encoding/json ignores them
 * (https://pkg.go.dev/encoding/json#Unmarshal): Kanto clients send what Kanto's struct takes,
 * and newer ones may send more.
 */
import { displayUrl } from '../transfer/index.js';
import type { ErrorValue } from './envelope.js';

/** An answer other than 204, with Kanto's wording. */
export class OperationError extends Error {
  constructor(readonly status: number, readonly error: ErrorValue['error'], message: string) {
    super(message);
    this.name = 'OperationError';
  }

  get value(): ErrorValue {
    return { status: this.status, error: this.error, message: this.message };
  }
}

export const parameterInvalid = (status: number, message: string) => new OperationError(status, 'messages:parameter.invalid', message);
export const executionFailed = (status: number, message: string) => new OperationError(status, 'messages:execution.failed', message);

export interface OperationParams {
  correlationId: string;
  providers: string[];
  /** Options as received (Kanto's keys: `backup.dir`, `aws.*`, `https.url`, …). */
  options: Record<string, string>;
  /** `cancel`'s fields. */
  statusCode: string;
  message: string;
}

/** Kanto's 400 for a value its Go struct cannot take (the value quoted as `quoteValue` shows it). */
export function invalidParameters(operation: string, value: unknown, why: string): OperationError {
  return parameterInvalid(400, `invalid '${operation}' operation parameters: ${quoteValue(value)} (${why})`);
}

/** Option and field names whose values are credentials: never quoted back. */
const SECRET_NAME = /secret|signature|token|password|passwd|authorization|credential|cookie|api[._-]?key|\bsas\b/i;
const QUOTE_DEPTH = 6;
const QUOTE_ENTRIES = 50;
const QUOTE_CHARS = 1000;

/**
 * A command's value for an error message, which every broker client can read: credentials
 * redacted, URLs without user info and query, and bounded in depth and length, so that a value
 * nested a million levels deep is quoted as briefly as any other (JSON.stringify would overflow).
 */
export function quoteValue(value: unknown): string {
  const text = JSON.stringify(redacted(value, 0, undefined)) ?? 'undefined';
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
}

function redacted(v: unknown, depth: number, name: string | undefined): unknown {
  if (name !== undefined && SECRET_NAME.test(name) && v !== null && v !== undefined && v !== '') return '<redacted>';
  if (typeof v === 'string') return /^https?:\/\//i.test(v.trim()) ? withoutSecrets(v) : v;
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= QUOTE_DEPTH) return '…';
  if (Array.isArray(v)) return v.slice(0, QUOTE_ENTRIES).map((x) => redacted(x, depth + 1, undefined));
  return Object.fromEntries(Object.entries(v).slice(0, QUOTE_ENTRIES).map(([k, x]) => [k, redacted(x, depth + 1, k)]));
}

function withoutSecrets(url: string): string {
  try {
    return displayUrl(url.trim());
  } catch {
    return url;
  }
}

/** An object value's fields by lower-case key: Go's JSON decoding matches keys case-insensitively. */
export function fieldsOf(value: object): Map<string, unknown> {
  return new Map(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

export function readParams(operation: string, value: unknown): OperationParams {
  const bad = (why: string) => invalidParameters(operation, value, why);
  const out: OperationParams = { correlationId: '', providers: [], options: {}, statusCode: '', message: '' };
  if (value === undefined || value === null) return out;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad('the value must be an object');
  const fields = fieldsOf(value);
  const text = (key: string, name: string, numbersToo = false): string => {
    const v = fields.get(key);
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (numbersToo && typeof v === 'number') return String(v);
    throw bad(`'${name}' must be a string`);
  };
  out.correlationId = text('correlationid', 'correlationId');
  out.statusCode = text('statuscode', 'statusCode', true);
  out.message = text('message', 'message');
  const providers = fields.get('providers');
  if (Array.isArray(providers)) {
    if (!providers.every((p) => typeof p === 'string')) throw bad("'providers' must list provider names");
    out.providers = providers as string[];
  } else if (typeof providers === 'object' && providers !== null) {
    out.providers = Object.keys(providers);
  } else if (providers !== undefined && providers !== null) {
    throw bad("'providers' must be a list or an object");
  }
  const options = fields.get('options');
  if (typeof options === 'object' && options !== null && !Array.isArray(options)) {
    for (const [k, v] of Object.entries(options)) {
      if (typeof v !== 'string') throw bad(`option '${k}' must be a string`);
      out.options[k] = v;
    }
  } else if (options !== undefined && options !== null) {
    throw bad("'options' must be an object of strings");
  }
  return out;
}

/** Options with empty values left out: Kanto's documentation's example sends `"https.url": ""` to mean none. */
export function givenOptions(options: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== ''));
}
