/**
 * Healthchecks-style pings of a schedule (https://healthchecks.io/docs/http_api/): `<url>/start`
 * when its backup starts, `<url>` when it succeeds, `<url>/fail` when it fails. The body carries
 * the message as text, which Healthchecks keeps as the ping's log.
 */
import { type NotificationMessage, textOf } from '../message.js';
import { type SendResult, post } from './http.js';

export const PING_EVENTS = ['ping.start', 'ping.success', 'ping.fail'] as const;
export type PingEvent = (typeof PING_EVENTS)[number];

const SUFFIX: Record<PingEvent, string> = { 'ping.start': '/start', 'ping.success': '', 'ping.fail': '/fail' };

export function isPingEvent(event: string): event is PingEvent {
  return (PING_EVENTS as readonly string[]).includes(event);
}

export function pingUrl(base: string, event: PingEvent): string {
  const u = new URL(base);
  u.pathname = u.pathname.replace(/\/+$/, '') + SUFFIX[event];
  return u.toString();
}

export function sendPing(base: string, event: PingEvent, m: NotificationMessage): Promise<SendResult> {
  return post(pingUrl(base, event), textOf(m), 'text/plain; charset=utf-8');
}
