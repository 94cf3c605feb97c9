/**
 * A channel's fields as a request gives them, checked: the settings that are no secret stay
 * readable, the secrets (a webhook URL, an SMTP password) are returned apart for sealing.
 * On update, fields not given keep their values (secrets included).
 */
import { NOTIFICATION_EVENTS, NOTIFICATION_KINDS, type NotificationChannel, type NotificationChannelFields, type NotificationEvent, type NotificationKind } from '../../catalog/index.js';
import { invalid } from '../errors.js';
import { type EmailSettings, TLS_MODES, type TlsMode } from './channels/email.js';

/** What a channel's sealed block holds. */
export interface ChannelSecrets {
  url?: string;
  password?: string;
}

export interface CheckedChannel extends NotificationChannelFields {
  secrets: ChannelSecrets;
}

/** Events a channel gets when none are named: failures only (success is opt-in). */
export const DEFAULT_EVENTS: readonly NotificationEvent[] = ['job.failed'];
const DEFAULT_PORT: Record<TlsMode, number> = { starttls: 587, tls: 465, none: 25 };

export function checkChannel(b: Record<string, unknown>, old: { channel: NotificationChannel; secrets: ChannelSecrets } | undefined): CheckedChannel {
  const pick = (key: string, cur: unknown): unknown => (key in b && b[key] !== undefined ? b[key] : cur);
  const name = pick('name', old?.channel.name);
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw invalid('name', 'must be 1 to 64 letters, digits or _.-');
  const kind = pick('kind', old?.channel.kind);
  if (typeof kind !== 'string' || !(NOTIFICATION_KINDS as readonly string[]).includes(kind)) throw invalid('kind', `must be one of ${NOTIFICATION_KINDS.join(', ')}`);
  if (old && kind !== old.channel.kind) throw invalid('kind', 'cannot change: make a new channel');
  const events = pick('events', old?.channel.events ?? DEFAULT_EVENTS);
  if (!Array.isArray(events) || events.some((e) => !(NOTIFICATION_EVENTS as readonly unknown[]).includes(e))) throw invalid('events', `must be a list of ${NOTIFICATION_EVENTS.join(', ')}`);
  const instance = pick('instance', old?.channel.instance ?? null);
  if (instance !== null && (typeof instance !== 'string' || instance === '')) throw invalid('instance', 'must be an instance name, or null for all');
  const enabled = pick('enabled', old?.channel.enabled ?? true);
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'must be a boolean');
  const base = { name, kind: kind as NotificationKind, events: [...new Set(events as NotificationEvent[])], instance: instance as string | null, enabled };
  if (kind === 'email') {
    const { settings, password } = checkEmail(b, old?.channel.settings as EmailSettings | undefined, old?.secrets.password ?? null);
    return { ...base, settings: { ...settings }, secrets: password !== null ? { password } : {} };
  }
  const url = pick('url', old?.secrets.url);
  if (url === undefined) throw invalid('url', `is required for a ${kind} channel`);
  return { ...base, settings: {}, secrets: { url: httpUrl('url', url) } };
}

/** An http(s) URL without credentials in it; the whole URL is treated as a secret all the same. */
export function httpUrl(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length > 2048) throw invalid(field, 'must be an http or https URL of at most 2048 characters');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalid(field, 'must be an http or https URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(field, 'must be an http or https URL');
  return u.toString();
}

function checkEmail(b: Record<string, unknown>, old: EmailSettings | undefined, oldPassword: string | null): { settings: EmailSettings; password: string | null } {
  const pick = (key: string, cur: unknown): unknown => (key in b && b[key] !== undefined ? b[key] : cur);
  const host = pick('smtp_host', old?.host);
  if (typeof host !== 'string' || !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) throw invalid('smtp_host', 'must be a host name or address');
  const tls = pick('smtp_tls', old?.tls ?? 'starttls');
  if (typeof tls !== 'string' || !(TLS_MODES as readonly string[]).includes(tls)) throw invalid('smtp_tls', `must be one of ${TLS_MODES.join(', ')}`);
  const port = pick('smtp_port', old?.port ?? DEFAULT_PORT[tls as TlsMode]);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid('smtp_port', 'must be a port number');
  const user = pick('smtp_user', old?.user ?? null);
  if (user !== null && (typeof user !== 'string' || user === '' || user.length > 256)) throw invalid('smtp_user', 'must be a user name, or null to send without signing in');
  const password = pick('smtp_password', oldPassword);
  if (password !== null && (typeof password !== 'string' || password.length > 1024)) throw invalid('smtp_password', 'must be a string, or null');
  const from = pick('from', old?.from);
  if (!isAddress(from)) throw invalid('from', 'must be an email address');
  const to = pick('to', old?.to);
  if (!Array.isArray(to) || to.length === 0 || to.length > 50 || !to.every(isAddress)) throw invalid('to', 'must be a list of 1 to 50 email addresses');
  return { settings: { host, port, tls: tls as TlsMode, user: user as string | null, from: from as string, to: to as string[] }, password: password as string | null };
}

function isAddress(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 254 && /^[^\s@<>]+@[^\s@<>]+$/.test(v);
}
