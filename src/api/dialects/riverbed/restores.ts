/**
 * Riverbed's restores: `POST /backups/items/{id}/restore` puts the device back exactly as the
 * backup holds it (core's `exact` mode: what the backup lacks is erased; Coffer's configuration
 * comes back too). Core decides whether `exact` applies: a partial or uploaded backup is restored
 * `merge` (nothing it lacks is erased) and the restore status says so. `POST /backups/reset_factory`
 * resets Coffer's own configuration to its first-start state (no repository and no backup is
 * deleted), and `GET /restore_status` tells how the latest of them went. One restore of the
 * device at a time: core answers 409.
 */
import { restoreStatusOfJob, restoreStatusOfReset } from '../../../core/index.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { deviceBackup } from './backups.js';
import { BODY_ERRORS, riverbedReplies } from './errors.js';
import * as S from './schemas.js';
import { restoreStatusView } from './views.js';

const tags = ['riverbed'];

export const riverbedRestoreRoutes: RoutesPlugin = async (app) => {
  app.post('/backups/items/:id/restore', {
    schema: {
      operationId: 'riverbedRestoreBackup', tags, summary: 'Restore this backup into the device',
      description: 'Roles: admin. No request body. The device\'s parts become exactly what the backup holds (files added since are removed) and Coffer\'s configuration is put back; '
        + 'a partial or uploaded backup only puts back what it holds (nothing is removed; the restore status says so); '
        + 'Coffer restarts its services (not the process) when done. Answers 202 with the restore status (`started`); follow GET /restore_status. 409 while another restore runs or the backup has not completed.',
      params: S.IdParams, response: riverbedReplies({ 202: S.RestoreStatus }, [...BODY_ERRORS, 404, 409]),
    },
  }, async (request, reply) => {
    const b = await deviceBackup(request, request.params.id);
    const job = await app.core.backups.restore(actorOf(request), b.id, { mode: 'exact' });
    reply.code(202);
    return restoreStatusView(restoreStatusOfJob(job));
  });

  app.post('/backups/reset_factory', {
    schema: {
      operationId: 'riverbedResetFactory', tags, summary: 'Reset Coffer\'s configuration to its first-start state',
      description: 'Roles: admin. No request body. Users, API keys, schedules and settings go back to first start (user admin only, with the configured or a newly generated password and key); '
        + 'instance device loses its parts. No repository and no backup is deleted: the backups stay listed and restorable. Audited. Answers with the restore status (`completed`).',
      response: riverbedReplies({ 200: S.RestoreStatus }, [...BODY_ERRORS]),
    },
  }, async (request) => {
    const done = await app.core.configuration.resetToFirstStart(actorOf(request));
    return restoreStatusView(restoreStatusOfReset(done.at, done.message));
  });

  app.get('/restore_status', {
    schema: {
      operationId: 'riverbedGetRestoreStatus', tags, summary: 'Status of the latest restore operation',
      description: 'Roles: all. The latest restore of the device, or the latest factory reset if that came later. `last_restore_time` is 0 and `status` `not_run` when none ever ran.',
      response: riverbedReplies({ 200: S.RestoreStatus }, []),
    },
  }, async (request) => restoreStatusView(await app.core.restoreStatus.latest(actorOf(request))));
};
