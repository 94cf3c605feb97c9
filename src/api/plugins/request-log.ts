/**
 * One log line per answered request, at a level by its outcome, so that `info` shows what an
 * operator acts on and not every poll: a success at debug, a client error at info, an expected
 * refusal (429 too many attempts, 503 busy or unavailable) at warn, any other 5xx at error (the
 * error handler, src/api/errors.ts, logs the error itself beside it). Fastify's own pair of
 * request lines is switched off in app.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { redactUrl } from './log-redaction.js';

export type RequestLogLevel = 'debug' | 'info' | 'warn' | 'error';

export function requestLogLevel(status: number): RequestLogLevel {
  if (status === 429 || status === 503) return 'warn';
  if (status >= 500) return 'error';
  return status >= 400 ? 'info' : 'debug';
}

function logAnswer(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const status = reply.statusCode;
  const url = redactUrl(request.raw.url ?? request.url);
  const ms = Math.round(reply.elapsedTime * 10) / 10;
  request.log[requestLogLevel(status)]({ method: request.method, url, status, responseTime: ms }, `${request.method} ${url} ${status} (${ms} ms)`);
  done();
}

export const requestLogPlugin = fp(async (app) => {
  app.addHook('onResponse', logAnswer);
}, { name: 'coffer-request-log' });
