/**
 * Syncano's restores: `POST /instances/{instance}/restores/` with `{"backup": id}` restores that
 * backup into the instance in the path (its own or another). A full backup puts the instance back
 * exactly as it was (what the backup lacks is erased: core's `exact` mode); a partial backup puts
 * back only what it holds (`merge`). One restore per instance at a time: core answers 409.
 */
import { CoreError } from '../../../core/index.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { pathId } from './backups.js';
import { syncanoReplies } from './errors.js';
import { keysetPage } from './paging.js';
import * as S from './schemas.js';
import { restoreView } from './views.js';

export const syncanoRestoreRoutes: RoutesPlugin = async (app) => {
  const tags = ['syncano'];

  app.post('/instances/:instance/restores/', {
    schema: {
      operationId: 'syncanoCreateRestore', tags, summary: 'Restore a backup into an instance',
      description: 'Roles: admin. Answers 201 with the restore, status `scheduled`; poll `links.self`. A full backup erases what the instance holds and puts the backup\'s state back exactly; a partial backup puts back only what it holds. 409 while another restore of the instance runs.',
      params: S.InstanceParams, body: S.RestoreBody, response: syncanoReplies({ 201: S.Restore }, [400, 404, 409, 413, 415]),
    },
  }, async (request, reply) => {
    const actor = actorOf(request);
    const instance = request.params.instance;
    await app.core.instances.get(actor, instance);
    const id = Number(request.body.backup);
    // DRF's related field: a backup that does not exist, or cannot be restored yet, is the body's fault (400), not the path's.
    const b = await app.core.backups.get(actor, id).catch((err: unknown) => {
      if (err instanceof CoreError && err.code === 'not_found') throw new CoreError('invalid', `backup: Invalid pk "${id}" - object does not exist.`, 'backup');
      throw err;
    });
    if (b.status !== 'success') throw new CoreError('invalid', `backup: backup ${id} is ${b.status}; only a successful backup can be restored.`, 'backup');
    const job = await app.core.backups.restore(actor, b.id, { target: instance, mode: b.scope === 'full' ? 'exact' : 'merge' });
    reply.code(201);
    return restoreView(job);
  });

  app.get('/instances/:instance/restores/', {
    schema: {
      operationId: 'syncanoListRestores', tags, summary: 'Restores into an instance', description: 'Roles: all. Paged: follow `next` and `prev`.',
      params: S.InstanceParams, querystring: S.PageQuery, response: syncanoReplies({ 200: S.ListOf(S.Restore) }, [400, 404]),
    },
  }, async (request) => {
    const actor = actorOf(request);
    return keysetPage(request.query, request.url.split('?', 1)[0]!, async (r) => (await app.core.jobs.list(actor, {
      kind: 'restore', instance: request.params.instance, order: r.order, limit: r.limit, offset: 0,
      ...(r.idAbove !== undefined ? { idAbove: r.idAbove } : {}), ...(r.idBelow !== undefined ? { idBelow: r.idBelow } : {}),
    })).items, restoreView);
  });

  app.get('/instances/:instance/restores/:id/', {
    schema: { operationId: 'syncanoGetRestore', tags, summary: 'One restore', description: 'Roles: all.', params: S.InstanceIdParams, response: syncanoReplies({ 200: S.Restore }, [404]) },
  }, async (request) => {
    const job = await app.core.jobs.get(actorOf(request), pathId(request.params.id, 'restore'), 'restore');
    if (job.instance !== request.params.instance) throw new CoreError('not_found', `restore ${job.id} is not a restore of instance ${request.params.instance}`);
    return restoreView(job);
  });
};
