/**
 * Progress timeouts for the bytes of a request and of a streamed response. A client that stops
 * sending its body, or stops reading a download, for `idleMs` loses its connection: the server
 * must not keep an upload's quota slot or a download's repository lock (a download holds a
 * shared lock until its stream closes, which blocks deletes and prunes) for a client that does
 * nothing. The timeout is of progress, not of the whole request: a 60 GiB upload or download that
 * keeps moving may take hours. It is Node's socket timeout, which fires only when no byte was
 * read or written for the period, and it is armed only while bytes are owed, so a request the
 * server itself is slow to answer (an upload being checked, a delete waiting) is not cut.
 */
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import fp from 'fastify-plugin';

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

function isStream(payload: unknown): payload is Readable {
  return typeof payload === 'object' && payload !== null && typeof (payload as Readable).pipe === 'function';
}

export const transferTimeoutsPlugin = fp<{ idleMs: number }>(async (app, { idleMs }) => {
  if (!(idleMs > 0)) return;
  app.addHook('onRequest', async (request) => {
    const raw = request.raw;
    // inject() has no real socket; a body already read has nothing owed.
    if (!(raw.socket instanceof Socket) || raw.complete || !hasBody(raw.headers)) return;
    const socket = raw.socket;
    // With no 'timeout' listener on the request, Node's server destroys the socket when it fires.
    socket.setTimeout(idleMs);
    // Once the body is in, the server may think as long as it needs before it answers.
    raw.once('end', () => socket.setTimeout(0));
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!isStream(payload) || !(reply.raw.socket instanceof Socket)) return payload;
    reply.raw.setTimeout(idleMs, () => {
      request.log.warn({ idleMs }, 'client stopped reading the response: connection closed');
      payload.destroy();
      reply.raw.destroy();
    });
    return payload;
  });
}, { name: 'coffer-transfer-timeouts', fastify: '5.x' });
