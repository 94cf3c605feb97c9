/**
 * Syncano instance backups (seed 003) at /v1: a thin adapter over core, with the seed's shapes,
 * words and errors. Syncano instances are Coffer instances (by name). Syncano's paths end in `/`;
 * each is also served without it (the seed itself writes `/v1/backups/full`), hidden from the
 * OpenAPI document. Bodies are JSON or HTML-form encoded, as Syncano's parsers took them.
 */
import type { RouteOptions } from 'fastify';
import type { RoutesPlugin } from '../../type-provider.js';
import { syncanoArchiveRoutes } from './archives.js';
import { syncanoBackupRoutes } from './backups.js';
import { syncanoErrorHandler, syncanoNotFound } from './errors.js';
import { syncanoRestoreRoutes } from './restores.js';

/**
 * Bodies here stay open (a field Coffer does not know is ignored, unlike the native API): Syncano's
 * API is Django REST framework, whose serializers ignore input fields they do not declare
 * (https://www.django-rest-framework.org/api-guide/serializers/), and its clients rely on that.
 */
export const syncanoApi: RoutesPlugin = async (app) => {
  app.setErrorHandler(syncanoErrorHandler);
  app.setNotFoundHandler(syncanoNotFound);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    done(null, Object.fromEntries(new URLSearchParams(text)));
  });

  const slashed: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), apiKeyInQuery: true };
    const method = route.method;
    if (route.url.endsWith('/') && method !== 'HEAD' && !(Array.isArray(method) && method.includes('HEAD'))) slashed.push(route as RouteOptions);
  });
  await app.register(syncanoBackupRoutes);
  await app.register(syncanoRestoreRoutes);
  await app.register(syncanoArchiveRoutes);
  for (const r of slashed) {
    // `routePath` is the path below this plugin's prefix (the route plugins above add none of their own).
    const routePath = (r as RouteOptions & { routePath: string }).routePath;
    app.route({
      method: r.method, url: routePath.slice(0, -1), handler: r.handler, ...(r.config ? { config: r.config } : {}),
      schema: { ...(r.schema ?? {}), hide: true }, ...(r.onSend ? { onSend: r.onSend } : {}),
    } as RouteOptions);
  }
};
