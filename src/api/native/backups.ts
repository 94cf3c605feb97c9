/** `/api/v1/backup`: create, list, get and delete backups (botserver's Backup API). */
import { Type } from 'typebox';
import { BACKUP_TYPES, MAX_DESCRIPTION, MAX_LABEL } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { Backup, BackupCreated, DEFAULT_LIMIT, TOTAL_COUNT, paging } from './schemas.js';
import { sentJson } from './sent-json.js';
import { backupCreatedView, backupView } from './views.js';
import { NATIVE_BACKUP_STATUSES } from './words.js';

const CreateBody = Type.Object({
  instance: Type.Optional(Type.String({ description: 'Instance to back up (default: the built-in instance `device`)' })),
  type: Type.Optional(StringEnum(BACKUP_TYPES, { description: 'Default incremental' })),
  include_files: Type.Optional(Type.Boolean({ description: 'Default true' })),
  include_database: Type.Optional(Type.Boolean({ description: 'Default true' })),
  label: Type.Optional(Nullable(Type.String({ maxLength: MAX_LABEL }))),
  description: Type.Optional(Nullable(Type.String({ maxLength: MAX_DESCRIPTION }))),
});
const CREATE_FIELDS = ['instance', 'type', 'include_files', 'include_database', 'label', 'description'] as const;

const ListQuery = Type.Object({
  instance: Type.Optional(Type.String()),
  status: Type.Optional(StringEnum(NATIVE_BACKUP_STATUSES)),
  type: Type.Optional(StringEnum(BACKUP_TYPES)),
  ...paging,
});

const BackupParams = Type.Object({ backup_id: Type.String({ description: '`backup-<n>` or `<n>`' }) });

export const backupRoutes: RoutesPlugin = async (app) => {
  app.post('/create', {
    schema: {
      operationId: 'createBackup', tags: ['backups'], summary: 'Create a backup (runs as a job)', description: 'Roles: admin, backup_operator. The backup is recorded at once with status `scheduled`; poll `GET /{backup_id}` or follow `/api/v1/jobs/{job_id}/events`.',
      body: CreateBody, response: replies({ 201: Ref(BackupCreated) }, ...BODY_ERRORS, 404, 409),
    },
  }, async (request, reply) => {
    const { backup, job } = await app.core.backups.create(actorOf(request), pick(request.body, CREATE_FIELDS));
    reply.code(201);
    return backupCreatedView(backup, job);
  });

  // A page or a backup core returns again (nothing changed since) goes out as the JSON it was sent as before.
  const sentPages = sentJson();
  app.get('/list', {
    schema: {
      operationId: 'listBackups', tags: ['backups'], summary: 'List backups, newest first', description: 'Roles: all. The total over all pages is in `X-Total-Count`.',
      querystring: ListQuery, response: replies({ 200: { ...Type.Array(Ref(Backup)), headers: TOTAL_COUNT } }, 400),
    },
    onSend: sentPages.onSend,
  }, async (request, reply) => {
    const q = request.query;
    const page = await app.core.backups.list(actorOf(request), {
      ...pick(q, ['instance', 'status', 'type'] as const), limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0,
    });
    reply.header('X-Total-Count', String(page.total));
    return sentPages.resend(request, reply, page) ?? page.items.map(backupView);
  });

  const sentBackups = sentJson();
  app.get('/:backup_id', {
    schema: { operationId: 'getBackup', tags: ['backups'], summary: 'One backup', description: 'Roles: all.', params: BackupParams, response: replies({ 200: Ref(Backup) }, 404) },
    onSend: sentBackups.onSend,
  }, async (request, reply) => {
    const b = await app.core.backups.get(actorOf(request), requireId('backup', request.params.backup_id));
    return sentBackups.resend(request, reply, b) ?? backupView(b);
  });

  app.delete('/:backup_id', {
    schema: {
      operationId: 'deleteBackup', tags: ['backups'], summary: 'Delete a backup and its snapshot', description: 'Roles: admin. Answers 204 with no body. Space returns at the next prune.',
      params: BackupParams, response: replies({ 204: Type.Null({ description: 'Deleted' }) }, 404, 409, 503),
    },
  }, async (request, reply) => {
    await app.core.backups.remove(actorOf(request), requireId('backup', request.params.backup_id));
    reply.code(204);
    return null;
  });
};
