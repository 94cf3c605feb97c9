/** `/api/v1/jobs`: every backup, restore and retention job, in core's words; cancel; follow as events. */
import { Type } from 'typebox';
import { JOB_KINDS, JOB_STATES } from '../../core/index.js';
import { replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { jobEventsRoute } from './job-events.js';
import { DEFAULT_LIMIT, Job, TOTAL_COUNT, paging } from './schemas.js';
import { jobView } from './views.js';

export const JobParams = Type.Object({ job_id: Type.String({ description: '`job-<n>` or `<n>`' }) });

export const jobRoutes: RoutesPlugin = async (app) => {
  app.get('', {
    schema: {
      operationId: 'listJobs', tags: ['jobs'], summary: 'List jobs, newest first', description: 'Roles: all. The total over all pages is in `X-Total-Count`.',
      querystring: Type.Object({ kind: Type.Optional(StringEnum(JOB_KINDS)), state: Type.Optional(StringEnum(JOB_STATES)), ...paging }),
      response: replies({ 200: { ...Type.Array(Ref(Job)), headers: TOTAL_COUNT } }, 400),
    },
  }, async (request, reply) => {
    const q = request.query;
    const page = await app.core.jobs.list(actorOf(request), { ...pick(q, ['kind', 'state'] as const), limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0 });
    reply.header('X-Total-Count', String(page.total));
    return page.items.map(jobView);
  });

  app.get('/:job_id', {
    schema: { operationId: 'getJob', tags: ['jobs'], summary: 'One job', description: 'Roles: all.', params: JobParams, response: replies({ 200: Ref(Job) }, 404) },
  }, async (request) => jobView(await app.core.jobs.get(actorOf(request), requireId('job', request.params.job_id))));

  app.post('/:job_id/cancel', {
    schema: {
      operationId: 'cancelJob', tags: ['jobs'], summary: 'Cancel a job', description: 'Roles: admin, backup_operator (restores: admin). 202: a queued job ends at once, a running one soon; 409 when it has ended.',
      params: JobParams, response: replies({ 202: Ref(Job) }, 404, 409),
    },
  }, async (request, reply) => {
    const j = await app.core.jobs.cancel(actorOf(request), requireId('job', request.params.job_id));
    reply.code(202);
    return jobView(j);
  });

  await app.register(jobEventsRoute);
};
