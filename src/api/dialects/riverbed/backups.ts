/**
 * Riverbed's backups resource: `GET|POST /backups`, `GET|DELETE /backups/items/{id}` and the
 * backup file at `/backups/items/{id}/file`. All act on the built-in instance `device`: a backup
 * of another instance is not found here. Each call is one core call; core owns every rule.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Backup, type BackupFileDownload, BUILTIN_INSTANCE, CoreError } from '../../../core/index.js';
import { clientGone } from '../../native/backup-files.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { BODY_ERRORS, riverbedReplies } from './errors.js';
import * as S from './schemas.js';
import { backupView } from './views.js';

const tags = ['riverbed'];
/** Backups read per catalog page while listing them all (Riverbed's documentation's list has no paging). */
const MAX_ID = 2_147_483_647;

/** A path id: digits only, within the catalog's integer range; anything else is the same 404 as an unknown id. */
export function backupIdOf(raw: string): number {
  const n = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : 0;
  if (n < 1 || n > MAX_ID) throw new CoreError('not_found', `backup ${raw.length > 64 ? `${raw.slice(0, 64)}…` : raw} not found`);
  return n;
}

/** The device's backup with this path id, or 404 (a backup of another instance is not the device's). */
export async function deviceBackup(request: FastifyRequest, rawId: string): Promise<Backup> {
  const b = await request.server.core.backups.get(actorOf(request), backupIdOf(rawId));
  if (b.instance !== BUILTIN_INSTANCE) throw new CoreError('not_found', `backup ${b.id} not found (it is not a backup of this device)`);
  return b;
}

export const riverbedBackupRoutes: RoutesPlugin = async (app) => {
  app.get('/backups', {
    schema: {
      operationId: 'riverbedListBackups', tags, summary: 'All backups of this device',
      description: `Roles: all. Newest first. One answer holds at most ${S.MAX_LISTED} backups (Riverbed's device keeps few); `
        + '`X-Total-Count` says how many there are, and `limit`/`offset` page past the first answer.',
      querystring: S.ListQuery, response: riverbedReplies({ 200: S.Backups }, [400]),
    },
  }, async (request, reply) => {
    const { limit = S.MAX_LISTED, offset = 0 } = request.query;
    const page = await app.core.backups.list(actorOf(request), { instance: BUILTIN_INSTANCE, limit, offset });
    reply.header('X-Total-Count', String(page.total));
    return { items: page.items.map(backupView) };
  });

  app.post('/backups', {
    schema: {
      operationId: 'riverbedCreateBackup', tags, summary: 'Start a backup of this device',
      description: 'Roles: admin, backup_operator. Takes a backup object of which only `description` is used (read-only fields are ignored). '
        + 'Answers 201 with the new backup, status `started`; poll it until `completed` or `failed`. The backup holds the device\'s parts and Coffer\'s own configuration.',
      body: S.BackupBody, response: riverbedReplies({ 201: S.Backup }, [...BODY_ERRORS, 404, 409]),
    },
  }, async (request, reply) => {
    const { backup } = await app.core.backups.create(actorOf(request), { instance: BUILTIN_INSTANCE, description: request.body.description });
    reply.code(201);
    reply.header('Location', `${request.url.split('?', 1)[0]!.replace(/\/$/, '')}/items/${backup.id}`);
    return backupView(backup);
  });

  app.get('/backups/items/:id', {
    schema: { operationId: 'riverbedGetBackup', tags, summary: 'One backup', description: 'Roles: all.', params: S.IdParams, response: riverbedReplies({ 200: S.Backup }, [404]) },
  }, async (request) => backupView(await deviceBackup(request, request.params.id)));

  app.delete('/backups/items/:id', {
    schema: {
      operationId: 'riverbedDeleteBackup', tags, summary: 'Delete a backup', description: 'Roles: admin. Answers 204 with no body. 409 while a backup or restore job uses it.',
      params: S.IdParams, response: riverbedReplies({ 204: { type: 'null', description: 'Deleted' } }, [...BODY_ERRORS, 404, 409, 503]),
    },
  }, async (request, reply) => {
    const b = await deviceBackup(request, request.params.id);
    await app.core.backups.remove(actorOf(request), b.id);
    reply.code(204);
    return null;
  });

  const sendFileHeaders = (reply: FastifyReply, file: BackupFileDownload): void => {
    reply.header('Content-Type', 'application/octet-stream');
    reply.header('Content-Length', String(file.size));
    reply.header('Content-Disposition', `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`);
  };

  app.get('/backups/items/:id/file', {
    // HEAD has its own route below: Fastify's would read the whole file only to drop it.
    exposeHeadRoute: false,
    schema: {
      operationId: 'riverbedGetBackupFile', tags, summary: 'Download the backup file',
      description: 'Roles: admin, backup_operator. Binary data (a ZIP that `unzip` opens: `manifest.json` and the content); `Content-Length` is the backup\'s `size`. '
        + 'Upload it again with POST /backups/upload. 409 while the backup has not completed.',
      produces: ['application/octet-stream'], params: S.IdParams,
      response: riverbedReplies({ 200: { type: 'string', format: 'binary', description: 'The backup file' } }, [404, 409, 503]),
    },
  }, async (request, reply) => {
    const b = await deviceBackup(request, request.params.id);
    const file = await app.core.backupFiles.download(actorOf(request), b.id, clientGone(reply));
    sendFileHeaders(reply, file);
    // A stream skips the serializer; the type provider only knows the schema's string.
    return reply.send(file.stream as never);
  });

  app.head('/backups/items/:id/file', { schema: { hide: true, params: S.IdParams } }, async (request, reply) => {
    const b = await deviceBackup(request, request.params.id);
    const file = await app.core.backupFiles.download(actorOf(request), b.id);
    // Planned (the exact length is known) but not read: destroying it releases the repository lock.
    file.stream.destroy();
    sendFileHeaders(reply, file);
    return reply.send();
  });
};
