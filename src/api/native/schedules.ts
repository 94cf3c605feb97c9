/** `/api/v1/backup/schedule`: backup schedules with retention (admin writes, everyone reads). */
import { Type } from 'typebox';
import { BACKUP_TYPES } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { Schedule } from './schemas.js';
import { scheduleView } from './views.js';

const Count = (description: string) => Type.Optional(Nullable(Type.Integer({ minimum: 0, description })));
const scheduleFields = {
  instance: Type.Optional(Type.String({ description: 'Default: the built-in instance `device`' })),
  timezone: Type.Optional(Nullable(Type.String({ description: 'IANA time zone, e.g. Europe/Berlin' }))),
  type: Type.Optional(StringEnum(BACKUP_TYPES, { description: 'Default incremental' })),
  enabled: Type.Optional(Type.Boolean()),
  label: Type.Optional(Nullable(Type.String())),
  retention_days: Count('Forget snapshots older than this many days'),
  keep_last: Count('Keep the last N'),
  keep_hourly: Count('Keep N hourly'),
  keep_daily: Count('Keep N daily'),
  keep_weekly: Count('Keep N weekly'),
  keep_monthly: Count('Keep N monthly'),
  keep_yearly: Count('Keep N yearly'),
  ping_url: Type.Optional(Nullable(Type.String({ description: 'A Healthchecks-style ping URL: `<url>/start` when a run starts, `<url>` when it succeeds, `<url>/fail` when it fails or is overdue. A credential: stored sealed, never shown again (see `ping_url_set`); null removes it' }))),
  overdue_grace_seconds: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 2_678_400, description: 'A run must succeed within this many seconds of its expected time, else the schedule is overdue (notified once per missed run); null: the default, 3600' }))),
  retention_includes_uploaded: Type.Optional(Type.Boolean({ description: 'Count uploaded backups under the keep rules too (and forget them like the others). Default false: retention leaves uploads alone' })),
};
const FIELDS = ['cron', 'instance', 'timezone', 'type', 'enabled', 'label', 'retention_days', 'keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly', 'retention_includes_uploaded', 'ping_url', 'overdue_grace_seconds'] as const;

const CreateBody = Type.Object({ cron: Type.String({ description: 'Cron expression: 5 fields, or 6 with seconds' }), ...scheduleFields });
const UpdateBody = Type.Object({ cron: Type.Optional(Type.String()), ...scheduleFields }, { description: 'Fields given replace the schedule\'s; the others stay' });
const Params = Type.Object({ schedule_id: Type.String({ description: '`schedule-<n>` or `<n>`' }) });

export const scheduleRoutes: RoutesPlugin = async (app) => {
  app.post('', {
    schema: { operationId: 'createSchedule', tags: ['backups'], summary: 'Create a schedule', description: 'Roles: admin.', body: CreateBody, response: replies({ 201: Ref(Schedule) }, ...BODY_ERRORS, 404) },
  }, async (request, reply) => {
    const s = await app.core.schedules.create(actorOf(request), pick(request.body, FIELDS));
    reply.code(201);
    return scheduleView(s);
  });

  app.get('', {
    schema: {
      operationId: 'listSchedules', tags: ['backups'], summary: 'List schedules', description: 'Roles: all.',
      querystring: Type.Object({ instance: Type.Optional(Type.String()) }), response: replies({ 200: Type.Array(Ref(Schedule)) }, 400),
    },
  }, async (request) => (await app.core.schedules.list(actorOf(request), pick(request.query, ['instance'] as const))).map(scheduleView));

  app.get('/:schedule_id', {
    schema: { operationId: 'getSchedule', tags: ['backups'], summary: 'One schedule', description: 'Roles: all.', params: Params, response: replies({ 200: Ref(Schedule) }, 404) },
  }, async (request) => scheduleView(await app.core.schedules.get(actorOf(request), requireId('schedule', request.params.schedule_id))));

  app.put('/:schedule_id', {
    schema: {
      operationId: 'updateSchedule', tags: ['backups'], summary: 'Update a schedule', description: 'Roles: admin. Partial: fields not given keep their values.',
      params: Params, body: UpdateBody, response: replies({ 200: Ref(Schedule) }, ...BODY_ERRORS, 404),
    },
  }, async (request) => scheduleView(await app.core.schedules.update(actorOf(request), requireId('schedule', request.params.schedule_id), pick(request.body, FIELDS))));

  app.delete('/:schedule_id', {
    schema: { operationId: 'deleteSchedule', tags: ['backups'], summary: 'Delete a schedule', description: 'Roles: admin. Answers 204.', params: Params, response: replies({ 204: Type.Null() }, 404) },
  }, async (request, reply) => {
    await app.core.schedules.remove(actorOf(request), requireId('schedule', request.params.schedule_id));
    reply.code(204);
    return null;
  });
};
