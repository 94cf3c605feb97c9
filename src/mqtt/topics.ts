/**
 * Hono command topics on the local broker and Ditto topics inside the envelopes.
 * Two styles arrive: Kanto's documentation's `command//<thing-id>/req//<op>` (answered on `command//<thing-id>/res//<op>`)
 * and Kanto's `command///req/<req-id>/<op>` (answered on `command///res/<req-id>/<status>`), KANTO.md 1.3.
 */

/** Where a command came from, enough to address its answer. */
export interface CommandRoute {
  tenant: string;
  /** Empty for Kanto's style (a command to the gateway device itself). */
  device: string;
  reqId: string;
  /** Hono's command name (the Ditto message subject); dispatch uses the envelope's path, not this. */
  command: string;
}

export const KANTO_COMMANDS = 'command///req/#';
export const EDGE_THING_REQUEST = 'edge/thing/request';
export const EDGE_THING_RESPONSE = 'edge/thing/response';
/** Everything else the device publishes (twin changes, outbox messages) goes to Hono's event topic. */
export const EVENT_TOPIC = 'e';

export function seedCommands(thingId: string): string {
  return `command//${thingId}/req/#`;
}

/** `command/<tenant>/<device>/req/<req-id>/<command>`, or null for any other topic. */
export function parseCommandTopic(topic: string): CommandRoute | null {
  const parts = topic.split('/');
  if (parts.length !== 6 || parts[0] !== 'command' || parts[3] !== 'req' || parts[5] === '') return null;
  return { tenant: parts[1]!, device: parts[2]!, reqId: parts[4]!, command: parts[5]! };
}

/**
 * The answer's topic. Kanto's documentation names the operation in a one-way-looking response topic
 * (`…/res//backup`); Hono's form carries the request id and the status.
 */
export function replyTopic(r: CommandRoute, status: number): string {
  if (r.device !== '' && r.reqId === '') return `command/${r.tenant}/${r.device}/res//${r.command}`;
  return `command/${r.tenant}/${r.device}/res/${r.reqId}/${status}`;
}

/** Ditto's namespaced id: `namespace:name`, neither part empty nor holding a `/`. */
export function isThingId(id: unknown): id is string {
  return typeof id === 'string' && /^[^:/\s]+:[^/\s]+$/.test(id);
}

/** The thing id of a Ditto topic `<ns>/<name>/(things|policies)/<channel>/<criterion>[/<action>]`, or null. */
export function thingIdOfDittoTopic(topic: string): string | null {
  const parts = topic.split('/');
  if (parts.length < 5 || parts.length > 6 || !['things', 'policies'].includes(parts[2]!) || parts.some((p) => p === '')) return null;
  const id = `${parts[0]}:${parts[1]}`;
  return isThingId(id) ? id : null;
}

export function dittoThingTopic(thingId: string, rest: string): string {
  const i = thingId.indexOf(':');
  return `${thingId.slice(0, i)}/${thingId.slice(i + 1)}/things/${rest}`;
}
