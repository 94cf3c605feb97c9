/**
 * Syncano instance backups (docs/dialects.md) at /v1: a thin adapter over core, with Syncano's shapes,
 * words and errors. Syncano instances are Coffer instances (by name). Syncano's paths end in `/`,
 * and Syncano's clients send them so; each is also served without it (Syncano's documentation itself writes
 * `/v1/backups/full`). The OpenAPI document lists the paths without the slash (generated clients
 * get plain paths; its description says every one also takes the slash) and hides the slashed
 * twins, so that each operation is there once. Bodies are JSON or HTML-form encoded, as
 * Syncano's parsers took them, and the document says both.
 */
import type { RouteOptions } from 'fastify';
import type { RoutesPlugin } from '../../type-provider.js';
import { syncanoArchiveRoutes } from './archives.js';
import { syncanoBackupRoutes } from './backups.js';
import { syncanoErrorHandler, syncanoNotFound } from './errors.js';
import { syncanoRestoreRoutes } from './restores.js';

const FORM_OR_JSON = ['application/json', 'application/x-www-form-urlencoded'];

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
    if (route.schema?.body) route.schema = { ...route.schema, consumes: FORM_OR_JSON };
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
      ...(r.schema ? { schema: r.schema } : {}), ...(r.onSend ? { onSend: r.onSend } : {}),
    } as RouteOptions);
    // The document is built from the routes' options on first request, so hiding the slashed
    // route here (after its twin took the schema) keeps it out; validation has its schema already.
    r.schema = { ...(r.schema ?? {}), hide: true };
  }
};
