/** `/healthz` (public: is the catalog answering?) and `/metrics` (Prometheus text, any signed-in user). */
import { Type } from 'typebox';
import { publicReplies, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import type { RoutesPlugin } from '../type-provider.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const systemRoutes: RoutesPlugin = async (app) => {
  app.get('/healthz', {
    config: { public: true },
    schema: {
      operationId: 'getHealth', tags: ['system'], summary: 'Health', description: 'Public. 200 when the catalog answers, 503 when it does not.', security: [],
      response: publicReplies({ 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false, description: 'The catalog answers' }) }, 400, 503),
    },
  }, async () => {
    await app.core.health();
    return { status: 'ok' as const };
  });

  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics', tags: ['system'], summary: 'Prometheus metrics', description: 'Any signed-in user (viewer suffices). Jobs by state, bytes backed up, job durations.', produces: ['text/plain'],
      response: replies({ 200: Type.String({ description: 'Prometheus text format 0.0.4' }) }),
    },
  }, async (request, reply) => {
    actorOf(request);
    reply.type(PROMETHEUS_CONTENT_TYPE);
    return app.core.metrics();
  });
};
