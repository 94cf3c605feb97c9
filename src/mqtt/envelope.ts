/**
 * Ditto protocol envelopes: reading an incoming command (outside data: every field checked) and
 * writing answers, twin modifications and outbox messages (KANTO.md 1.5–1.7).
 */
import { dittoThingTopic } from './topics.js';

export interface DittoEnvelope {
  topic: string;
  headers: Record<string, unknown>;
  path: string;
  value?: unknown;
  status?: number;
}

/** A command that passed the envelope checks; `value` is still unchecked. */
export interface InboundMessage {
  topic: string;
  path: string;
  /** The operation: what follows `/inbox/messages/` in the path. */
  operation: string;
  correlationId: string;
  /** Ditto's default is true; only an explicit false silences the answer. */
  responseRequired: boolean;
  value: unknown;
}

export type ReadResult =
  | { kind: 'ok'; message: InboundMessage }
  /** Not for this device or feature: ignored without an answer, as Kanto does. */
  | { kind: 'ignore'; why: string }
  /** Broken: answered 400 (with what is known of it) and logged. */
  | { kind: 'invalid'; why: string; correlationId: string; responseRequired: boolean; topic?: string; path?: string };

/** KANTO.md 1.5, in its order: envelope, feature path, thing id, headers, inbox operation. */
export function readCommand(payload: Buffer, thingId: string, featureId: string, thingTopic: (topic: string) => string | null): ReadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { kind: 'invalid', why: `the payload is not JSON: ${(err as Error).message}`, correlationId: '', responseRequired: true };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { kind: 'invalid', why: 'the payload is not a Ditto envelope (a JSON object)', correlationId: '', responseRequired: true };
  const env = raw as Record<string, unknown>;
  const headers = readHeaders(env['headers']);
  const known = { correlationId: headers.correlationId ?? '', responseRequired: headers.responseRequired ?? true };
  const topic = env['topic'];
  const path = env['path'];
  if (typeof topic !== 'string') return { kind: 'invalid', why: "the envelope has no string 'topic'", ...known };
  if (typeof path !== 'string') return { kind: 'invalid', why: "the envelope has no string 'path'", ...known, topic };
  const topicThing = thingTopic(topic);
  if (topicThing === null) return { kind: 'invalid', why: `'${topic}' is not a Ditto thing topic`, ...known };
  const feature = `/features/${featureId}`;
  if (path !== feature && !path.startsWith(`${feature}/`)) return { kind: 'ignore', why: `path ${path} is not feature ${featureId}` };
  if (topicThing !== thingId) return { kind: 'ignore', why: `thing ${topicThing} is not this device (${thingId})` };
  if (headers.problem) return { kind: 'invalid', why: headers.problem, ...known, topic, path };
  const inbox = `${feature}/inbox/messages/`;
  if (!path.startsWith(inbox) || path.length === inbox.length) return { kind: 'ignore', why: `path ${path} is not an inbox message` };
  return { kind: 'ok', message: { topic, path, operation: path.slice(inbox.length), ...known, value: env['value'] } };
}

interface Headers {
  correlationId?: string;
  responseRequired?: boolean;
  /** Why the headers are unusable; what could be read is still returned, to address the answer. */
  problem?: string;
}

/** Header names are case-insensitive in Ditto; values must have their protocol types. */
function readHeaders(raw: unknown): Headers {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: `'headers' must be an object, got ${describe(raw)}` };
  const lower = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
  const out: Headers = {};
  const problems: string[] = [];
  const cid = lower.get('correlation-id');
  if (typeof cid === 'string') out.correlationId = cid;
  else if (typeof cid === 'number') (out.correlationId = String(cid)), problems.push("header 'correlation-id' must be a string");
  else if (cid !== undefined) problems.push(`header 'correlation-id' must be a string, got ${describe(cid)}`);
  const rr = lower.get('response-required');
  if (typeof rr === 'boolean') out.responseRequired = rr;
  else if (rr === 'true' || rr === 'false') out.responseRequired = rr === 'true'; // Ditto's HTTP side sends header values as strings
  else if (rr !== undefined) problems.push(`header 'response-required' must be a boolean, got ${describe(rr)}`);
  const ct = lower.get('content-type');
  if (ct !== undefined && typeof ct !== 'string') problems.push(`header 'content-type' must be a string, got ${describe(ct)}`);
  if (problems.length) out.problem = problems.join('; ');
  return out;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

export interface ErrorValue {
  status: number;
  error: 'messages:parameter.invalid' | 'messages:execution.failed';
  message: string;
}

/** The answer: same topic, `inbox` → `outbox`, the correlation id echoed; a value only for errors. */
export function answer(topic: string, path: string, correlationId: string, status: number, error?: ErrorValue): DittoEnvelope {
  const env: DittoEnvelope = {
    topic,
    headers: { 'correlation-id': correlationId, 'content-type': 'application/json' },
    path: path.replace('/inbox/', '/outbox/'),
    status,
  };
  if (error) env.value = error;
  return env;
}

/** A twin modification (feature creation or one property), sent without asking for an answer. */
export function twinModify(thingId: string, path: string, value: unknown): DittoEnvelope {
  return { topic: dittoThingTopic(thingId, 'twin/commands/modify'), headers: { 'response-required': false }, path, value };
}

/** A live message from the feature's outbox (Kanto's upload `request`). */
export function outboxMessage(thingId: string, featureId: string, subject: string, value: unknown, headers: Record<string, unknown> = {}): DittoEnvelope {
  return {
    topic: dittoThingTopic(thingId, `live/messages/${subject}`),
    headers: { 'response-required': false, 'content-type': 'application/json', ...headers },
    path: `/features/${featureId}/outbox/messages/${subject}`,
    value,
  };
}
