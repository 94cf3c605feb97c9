/** `/api/v1/backup/restore`: start a restore (one per instance at a time) and follow its status. */
import { Type } from 'typebox';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { RestoreJob } from './schemas.js';
import { restoreView } from './views.js';

const RestoreBody = Type.Object({
  target: Type.Optional(Type.String({ description: 'Instance to restore into (default: the backup\'s own)' })),
  paths: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Only these: absolute paths as backed up, or `part/inside/it`' })),
  mode: Type.Optional(StringEnum(['merge', 'exact'] as const, { description: 'merge (default) writes what the backup holds; exact also deletes what it lacks' })),
});

export const restoreRoutes: RoutesPlugin = async (app) => {
  app.post('/:backup_id', {
    schema: {
      operationId: 'restoreBackup', tags: ['backups'], summary: 'Restore a backup (runs as a job)', description: 'Roles: admin. 409 while a restore of the target instance runs.',
      params: Type.Object({ backup_id: Type.String() }), body: RestoreBody,
      response: replies({ 202: Ref(RestoreJob) }, ...BODY_ERRORS, 404, 409),
    },
  }, async (request, reply) => {
    const job = await app.core.backups.restore(actorOf(request), requireId('backup', request.params.backup_id), pick(request.body, ['target', 'paths', 'mode'] as const));
    reply.code(202);
    return restoreView(job);
  });

  app.get('/:job_id/status', {
    schema: {
      operationId: 'getRestoreStatus', tags: ['backups'], summary: 'Status of a restore', description: 'Roles: all.',
      params: Type.Object({ job_id: Type.String({ description: '`job-<n>` or `<n>`' }) }), response: replies({ 200: Ref(RestoreJob) }, 404),
    },
  }, async (request) => restoreView(await app.core.jobs.get(actorOf(request), requireId('job', request.params.job_id), 'restore')));
};
