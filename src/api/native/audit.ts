/** `/api/v1/audit`: who did what, newest first (admin only). */
import { Type } from 'typebox';
import { replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Ref, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { AuditEntry, DEFAULT_LIMIT, TOTAL_COUNT, paging } from './schemas.js';
import { auditView } from './views.js';

export const auditRoutes: RoutesPlugin = async (app) => {
  app.get('', {
    schema: {
      operationId: 'listAuditEvents', tags: ['audit'], summary: 'The audit log', description: 'Roles: admin. The total over all pages is in `X-Total-Count`.',
      querystring: Type.Object({ actor: Type.Optional(Type.String()), action: Type.Optional(Type.String()), ...paging }),
      response: replies({ 200: { ...Type.Array(Ref(AuditEntry)), headers: TOTAL_COUNT } }, 400),
    },
  }, async (request, reply) => {
    const q = request.query;
    const page = await app.core.audit.list(actorOf(request), { ...pick(q, ['actor', 'action'] as const), limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0 });
    reply.header('X-Total-Count', String(page.total));
    return page.items.map(auditView);
  });
};
