/**
 * Authentication: every route needs credentials unless its config says `public: true`. An API key
 * (`X-API-KEY: key` or `Authorization: Bearer key`) or HTTP Basic (user name and password) becomes
 * `request.actor`; core decides what that actor may do (403) and throttles guessing (429). This
 * hook establishes who is asking (401 when nobody valid is) and, for routes whose config names a
 * permission (uploads), refuses early who may not (403), before a byte of the body is read.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type Actor, type Core, CoreError, PERMISSIONS, allowed } from '../../core/index.js';

const NO_CREDENTIALS = 'credentials required: an API key (X-API-KEY or Authorization: Bearer) or HTTP Basic';

function unauthorized(message: string): CoreError {
  return new CoreError('unauthorized', message);
}

export async function authenticate(core: Core, request: FastifyRequest): Promise<Actor> {
  const ip = request.ip;
  // Routes whose config says so (Syncano's) also take the key as the `api_key` query parameter.
  const apiKey = request.headers['x-api-key'] ?? (request.routeOptions.config.apiKeyInQuery === true ? (request.query as Record<string, unknown> | undefined)?.['api_key'] : undefined);
  if (typeof apiKey === 'string' && apiKey !== '') return core.auth.byApiKey(apiKey.trim(), ip);
  const header = request.headers.authorization;
  if (!header) throw unauthorized(NO_CREDENTIALS);
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    if (!value) throw unauthorized('Authorization: Bearer needs an API key');
    return core.auth.byApiKey(value, ip);
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // A NUL cannot be part of a user name, and PostgreSQL refuses it in text: not worth a query.
    if (colon <= 0 || decoded.includes('\0')) throw unauthorized('Authorization: Basic needs base64 of user:password');
    return core.auth.byPassword(decoded.slice(0, colon), decoded.slice(colon + 1), ip);
  }
  throw unauthorized(`unsupported authorization scheme ${scheme.slice(0, 32)}; use Basic or Bearer`);
}

export const authPlugin = fp(async (app) => {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request, reply) => {
    // Unknown routes answer 404 whoever asks; public routes need nobody.
    if (request.is404 || request.routeOptions.config.public === true) return;
    request.actor = await authenticate(app.core, request);
    const needs = request.routeOptions.config.permission;
    if (needs !== undefined && !allowed(request.actor, needs)) {
      // The body is never read: close the connection rather than drain what the client still sends.
      reply.header('Connection', 'close');
      throw new CoreError('forbidden', `role ${request.actor.role} may not ${needs.replace('.', ' ')} (needs ${PERMISSIONS[needs].join(' or ')})`);
    }
  });
}, { name: 'coffer-auth', fastify: '5.x', dependencies: ['coffer-core'] });

/** The actor of an authenticated route (the hook guarantees one; a public route asking is a bug). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new CoreError('internal', `route ${request.routeOptions.url ?? request.url} has no authenticated actor`);
  return request.actor;
}
