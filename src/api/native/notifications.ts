/**
 * `/api/v1/notifications` (channels) and `/api/v1/notification-deliveries` (what was sent, or is
 * waiting to be retried): admins only. Secrets (webhook URLs, SMTP passwords) go in and never come
 * out: views say `url_set`/`smtp_password_set`.
 */
import { Type } from 'typebox';
import { DELIVERY_STATUSES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS, TLS_MODES } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { parseId, requireId } from './ids.js';
import { DEFAULT_LIMIT, NotificationChannel, NotificationDelivery, TOTAL_COUNT, paging } from './schemas.js';
import { deliveryView, notificationView } from './views.js';

const fields = {
  events: Type.Optional(Type.Array(StringEnum(NOTIFICATION_EVENTS), { description: 'Default [job.failed]; job.succeeded is opt-in' })),
  instance: Type.Optional(Nullable(Type.String({ description: 'Only events of this instance; null (default): all' }))),
  enabled: Type.Optional(Type.Boolean({ description: 'Default true' })),
  url: Type.Optional(Type.String({ description: 'webhook, slack, discord: the URL to POST to. A credential: stored sealed, never shown again' })),
  smtp_host: Type.Optional(Type.String({ description: 'email: the SMTP server' })),
  smtp_port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'email: default 587 (starttls), 465 (tls), 25 (none)' })),
  smtp_tls: Type.Optional(StringEnum(TLS_MODES, { description: 'email: starttls (default; refused if the server cannot), tls (implicit TLS), none' })),
  smtp_user: Type.Optional(Nullable(Type.String({ description: 'email: user to sign in as; null: no sign-in' }))),
  smtp_password: Type.Optional(Nullable(Type.String({ description: 'email: stored sealed, never shown again; null removes it' }))),
  from: Type.Optional(Type.String({ description: 'email: sender address' })),
  to: Type.Optional(Type.Array(Type.String(), { description: 'email: recipient addresses' })),
};
const FIELDS = ['name', 'kind', 'events', 'instance', 'enabled', 'url', 'smtp_host', 'smtp_port', 'smtp_tls', 'smtp_user', 'smtp_password', 'from', 'to'] as const;
const CreateBody = Type.Object({ name: Type.String({ description: '1 to 64 letters, digits or _.-' }), kind: StringEnum(NOTIFICATION_KINDS), ...fields });
const UpdateBody = Type.Object({ name: Type.Optional(Type.String()), kind: Type.Optional(StringEnum(NOTIFICATION_KINDS, { description: 'Cannot change' })), ...fields }, {
  description: 'Fields given replace the channel\'s; the others (its secrets included) stay',
});
const Params = Type.Object({ notification_id: Type.String({ description: '`notification-<n>` or `<n>`' }) });

export const notificationRoutes: RoutesPlugin = async (app) => {
  app.get('', {
    schema: {
      operationId: 'listNotifications', tags: ['notifications'], summary: 'List notification channels', description: 'Roles: admin.',
      response: replies({ 200: { ...Type.Array(Ref(NotificationChannel)), description: 'Every channel, without its secrets' } }),
    },
  }, async (request) => (await app.core.notifications.list(actorOf(request))).map(notificationView));

  app.post('', {
    schema: {
      operationId: 'createNotification', tags: ['notifications'], summary: 'Create a notification channel',
      description: 'Roles: admin. A webhook, slack or discord channel needs `url`; an email channel needs `smtp_host`, `from` and `to`.',
      body: CreateBody, response: replies({ 201: { ...Ref(NotificationChannel), description: 'The channel made' } }, ...BODY_ERRORS, 404, 409),
    },
  }, async (request, reply) => {
    const c = await app.core.notifications.create(actorOf(request), pick(request.body, FIELDS));
    reply.code(201);
    return notificationView(c);
  });

  app.get('/:notification_id', {
    schema: {
      operationId: 'getNotification', tags: ['notifications'], summary: 'One notification channel', description: 'Roles: admin.',
      params: Params, response: replies({ 200: { ...Ref(NotificationChannel), description: 'The channel, without its secrets' } }, 404),
    },
  }, async (request) => notificationView(await app.core.notifications.get(actorOf(request), requireId('notification', request.params.notification_id))));

  app.put('/:notification_id', {
    schema: {
      operationId: 'updateNotification', tags: ['notifications'], summary: 'Update a notification channel', description: 'Roles: admin. Partial: fields not given keep their values.',
      params: Params, body: UpdateBody, response: replies({ 200: { ...Ref(NotificationChannel), description: 'The channel as it is now' } }, ...BODY_ERRORS, 404, 409),
    },
  }, async (request) => notificationView(await app.core.notifications.update(actorOf(request), requireId('notification', request.params.notification_id), pick(request.body, FIELDS))));

  app.delete('/:notification_id', {
    schema: {
      operationId: 'deleteNotification', tags: ['notifications'], summary: 'Delete a notification channel and its deliveries', description: 'Roles: admin.',
      params: Params, response: replies({ 204: Type.Null({ description: 'Deleted' }) }, 404),
    },
  }, async (request, reply) => {
    await app.core.notifications.remove(actorOf(request), requireId('notification', request.params.notification_id));
    reply.code(204);
    return null;
  });

  app.post('/:notification_id/test', {
    schema: {
      operationId: 'testNotification', tags: ['notifications'], summary: 'Send a test message now',
      description: 'Roles: admin. Sends once, without retries, and answers the delivery: `status` delivered, or failed with `last_error`.',
      params: Params, response: replies({ 200: { ...Ref(NotificationDelivery), description: 'The test message\'s delivery' } }, 404),
    },
  }, async (request) => deliveryView(await app.core.notifications.test(actorOf(request), requireId('notification', request.params.notification_id))));
};

export const deliveryRoutes: RoutesPlugin = async (app) => {
  app.get('', {
    schema: {
      operationId: 'listNotificationDeliveries', tags: ['notifications'], summary: 'List notification deliveries, newest first',
      description: 'Roles: admin. Channels\' messages and schedules\' Healthchecks pings. The total over all pages is in `X-Total-Count`.',
      querystring: Type.Object({
        status: Type.Optional(StringEnum(DELIVERY_STATUSES)),
        notification: Type.Optional(Type.String({ description: 'Only this channel\'s (`notification-<n>`)' })),
        schedule: Type.Optional(Type.String({ description: 'Only those about this schedule (`schedule-<n>`)' })),
        ...paging,
      }),
      response: replies({ 200: { ...Type.Array(Ref(NotificationDelivery)), description: 'A page of deliveries', headers: TOTAL_COUNT } }, 400, 404),
    },
  }, async (request, reply) => {
    const q = request.query;
    const page = await app.core.notifications.deliveries(actorOf(request), {
      ...pick(q, ['status'] as const),
      ...(q.notification !== undefined ? { channelId: requireId('notification', q.notification) } : {}),
      ...(q.schedule !== undefined ? { scheduleId: parseId('schedule', q.schedule) ?? 0 } : {}),
      limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0,
    });
    reply.header('X-Total-Count', String(page.total));
    return page.items.map(deliveryView);
  });

  app.post('/:delivery_id/retry', {
    schema: {
      operationId: 'retryNotificationDelivery', tags: ['notifications'], summary: 'Retry a failed delivery',
      description: 'Roles: admin. Queues a failed delivery again with a fresh count of attempts (409 unless it failed).',
      params: Type.Object({ delivery_id: Type.String({ description: '`delivery-<n>` or `<n>`' }) }),
      response: replies({ 200: { ...Ref(NotificationDelivery), description: 'The delivery, pending again' } }, 404, 409),
    },
  }, async (request) => deliveryView(await app.core.notifications.retry(actorOf(request), requireId('delivery', request.params.delivery_id))));
};
