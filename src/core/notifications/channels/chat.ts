/**
 * Webhook channels: a URL (a credential itself: whoever holds a Slack or Discord webhook URL may
 * post to the channel) that receives one POST per message. `webhook` gets the generic JSON message,
 * `slack` an incoming-webhook body (`{"text": …}`, https://api.slack.com/messaging/webhooks),
 * `discord` an execute-webhook body (`{"content": …}`, at most 2000 characters,
 * https://discord.com/developers/docs/resources/webhook#execute-webhook).
 */
import { type NotificationMessage, textOf } from '../message.js';
import { type SendResult, post } from './http.js';

const DISCORD_MAX = 2000;

export type WebhookKind = 'webhook' | 'slack' | 'discord';

export function bodyOf(kind: WebhookKind, m: NotificationMessage): string {
  if (kind === 'slack') return JSON.stringify({ text: textOf(m) });
  if (kind === 'discord') {
    const text = textOf(m);
    return JSON.stringify({ content: text.length > DISCORD_MAX ? `${text.slice(0, DISCORD_MAX - 1)}…` : text });
  }
  return JSON.stringify(m);
}

export function sendWebhook(kind: WebhookKind, url: string, m: NotificationMessage): Promise<SendResult> {
  return post(url, bodyOf(kind, m), 'application/json');
}
