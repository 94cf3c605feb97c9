/**
 * `GET /api/v1/jobs/{job_id}/events`: a job's updates as Server-Sent Events. The current job comes
 * at once (`event: progress`), then every update (`event: state` when the state changed, else
 * `progress`), then `event: end` with the final job, and the stream closes. A comment line every
 * 15 s (`sseHeartbeatMs`) keeps proxies from closing a quiet stream. Following stops when the client goes away, and
 * closing the app ends every open stream.
 */
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import { CoreError, type JobInfo, isTerminal } from '../../core/index.js';
import { replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { jobView } from './views.js';

/** Event streams one user may have open at once: each holds a socket and a follower of its job. */
export const MAX_STREAMS_PER_USER = 20;

export const jobEventsRoute: RoutesPlugin = async (app) => {
  const open = new Set<() => void>();
  const perUser = new Map<string, number>();
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });

  app.get('/:job_id/events', {
    exposeHeadRoute: false,
    schema: {
      operationId: 'followJobEvents', tags: ['jobs'], summary: 'Follow a job as Server-Sent Events', description: `Roles: all. Events: progress, state, end (data: the job as JSON). A user may follow at most ${MAX_STREAMS_PER_USER} streams at once (429 beyond).`, produces: ['text/event-stream'],
      params: Type.Object({ job_id: Type.String() }),
      response: replies({ 200: Type.String({ description: 'text/event-stream' }) }, 404),
    },
  }, async (request, reply) => {
    // Permission and existence are checked before the stream opens, so they are ordinary 403/404 replies.
    const actor = actorOf(request);
    const first = await app.core.jobs.get(actor, requireId('job', request.params.job_id));
    const mine = perUser.get(actor.name) ?? 0;
    if (mine >= MAX_STREAMS_PER_USER) {
      throw new CoreError('too_many_attempts', `user ${actor.name} has ${mine} event streams open, the most allowed; close one first`, undefined, { retryAfterSeconds: 5 });
    }
    perUser.set(actor.name, mine + 1);
    reply.hijack();
    const raw: ServerResponse = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let seq = 0;
    let lastState = first.state;
    const send = (event: string, job: JobInfo) => {
      if (!raw.writableEnded) raw.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(jobView(job))}\n\n`);
    };

    let stopFollowing = () => {};
    const heartbeat = setInterval(() => {
      if (!raw.writableEnded) raw.write(': heartbeat\n\n');
    }, app.sseHeartbeatMs);
    heartbeat.unref();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      const left = (perUser.get(actor.name) ?? 1) - 1;
      if (left > 0) perUser.set(actor.name, left);
      else perUser.delete(actor.name);
      clearInterval(heartbeat);
      stopFollowing();
      open.delete(close);
      if (!raw.writableEnded) raw.end();
    };
    const finish = (job: JobInfo) => {
      send('end', job);
      close();
    };
    open.add(close);
    raw.on('close', close);

    send('progress', first);
    if (isTerminal(first.state)) {
      finish(first);
      return;
    }
    // Updates carry the bare job; its instance never changes, so the first lookup's name stays right.
    stopFollowing = app.core.jobs.follow(first.id, (j) => {
      const job: JobInfo = { ...j, instance: first.instance };
      send(j.state !== lastState ? 'state' : 'progress', job);
      lastState = j.state;
      if (isTerminal(j.state)) finish(job);
    });
  });
};
