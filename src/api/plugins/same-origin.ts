/**
 * Cross-site request refusal (CSRF): a request that changes something (POST, PUT, PATCH, DELETE)
 * and that a browser says came from another site is 403, on every surface, before authentication.
 * Browsers send `Sec-Fetch-Site` and, on such requests, `Origin`; a page elsewhere can make a
 * browser send a form (Syncano's routes take form bodies) with credentials it has cached, but it
 * cannot forge these headers. API clients (curl, SDKs) send neither, so an absent header passes.
 * Only the host of `Origin` is compared with the request's own (`Host`, or X-Forwarded-Host with
 * --trust-proxy): behind a TLS proxy the scheme the server sees differs from the browser's.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CoreError } from '../../core/index.js';

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Why the request is refused as cross-site, or undefined when it is not. */
export function crossSiteReason(request: FastifyRequest): string | undefined {
  if (!CHANGING.has(request.method)) return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site is ${site}`;
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  const from = originHost(origin);
  if (from === undefined || from !== request.host.toLowerCase()) return `Origin ${origin.slice(0, 100)} is not this server`;
  return undefined;
}

export const sameOriginPlugin = fp(async (app) => {
  app.addHook('onRequest', async (request) => {
    const reason = crossSiteReason(request);
    if (reason) throw new CoreError('forbidden', `cross-site request refused: ${reason}`);
  });
}, { name: 'coffer-same-origin', fastify: '5.x' });
