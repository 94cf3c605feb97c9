/**
 * Resending JSON already sent. Core returns the same frozen object (a page of the backup list, a
 * backup) while the catalog has not changed; the JSON it was serialized to is kept beside it, so
 * a route answers a poll without serializing again. Kept in WeakMaps: when core drops the object,
 * its JSON goes too.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SentJson {
  /** The route's onSend hook: remembers the JSON a 200 reply carried for the object it was made of. */
  onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown>;
  /**
   * Sends `source`'s JSON when it went out before and returns the reply; otherwise notes that this
   * request serializes `source` and returns undefined (the handler then returns its view).
   */
  resend(request: FastifyRequest, reply: FastifyReply, source: object): FastifyReply | undefined;
}

export function sentJson(): SentJson {
  const sent = new WeakMap<object, string>();
  const sourceOf = new WeakMap<FastifyRequest, object>();
  return {
    async onSend(request, reply, payload) {
      const source = sourceOf.get(request);
      if (source && reply.statusCode === 200 && typeof payload === 'string') sent.set(source, payload);
      return payload;
    },
    resend(request, reply, source) {
      const json = sent.get(source);
      // Already JSON: a string payload skips the serializer (the type provider only knows objects).
      if (json !== undefined) return reply.type('application/json; charset=utf-8').send(json as never);
      sourceOf.set(request, source);
      return undefined;
    },
  };
}
