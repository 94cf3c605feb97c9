/**
 * `/api/v1/backup/{backup_id}/file` and `/api/v1/backup/upload`: one backup as a ZIP file, down
 * and up. Both stream: the upload's body is handed to core as it arrives, never buffered here.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { type BackupFileDownload, MAX_DESCRIPTION, MAX_LABEL } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { Backup } from './schemas.js';
import { backupView } from './views.js';

/** Media types an upload may declare; the body is taken as bytes whatever it holds (core checks it). */
export const BACKUP_FILE_MEDIA_TYPES = ['application/octet-stream', 'application/zip', 'application/x-zip-compressed'];

const FileParams = Type.Object({ backup_id: Type.String({ description: '`backup-<n>` or `<n>`' }) });
const UploadQuery = Type.Object({
  instance: Type.Optional(Type.String({ description: 'Instance the backup joins (default: the built-in instance `device`)' })),
  label: Type.Optional(Nullable(Type.String({ maxLength: MAX_LABEL }))),
  description: Type.Optional(Nullable(Type.String({ maxLength: MAX_DESCRIPTION }))),
});

/**
 * Lets a route scope take backup file uploads: nothing is parsed, and the handler hands the
 * request stream itself (`request.raw`) to `core.backupFiles.upload`, which spools it to disk
 * (bounded memory, its own size limit). `request.body` stays undefined: the input checks walk a
 * body, and walking a stream object fails. Routes also need `bodyLimit: core.backupFiles.maxUploadBytes`
 * and `config.permission`, so that nobody who may not upload makes the server read a byte.
 * Every other media type is 415 in the scope: a JSON or form parser would buffer the whole body
 * (up to the upload's limit) in memory.
 */
export function acceptBackupFileBodies(app: Pick<FastifyInstance, 'addContentTypeParser' | 'removeAllContentTypeParsers'>): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(BACKUP_FILE_MEDIA_TYPES, (_request, _payload, done) => done(null, undefined));
}

/** Aborted when the client goes away before its response is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new Error('the client closed the connection'));
  });
  return ac.signal;
}

export const backupFileRoutes: RoutesPlugin = async (app) => {
  acceptBackupFileBodies(app);

  const sendHeaders = (reply: FastifyReply, file: BackupFileDownload): void => {
    reply.header('Content-Type', 'application/zip');
    reply.header('Content-Length', String(file.size));
    reply.header('Content-Disposition', `attachment; filename="${file.filename}"`);
  };

  app.get('/:backup_id/file', {
    // HEAD has its own route below: Fastify's would read the whole file only to drop it.
    exposeHeadRoute: false,
    schema: {
      operationId: 'getBackupFile', tags: ['backups'], summary: 'Download a backup file (ZIP)',
      description: 'Roles: admin, backup_operator (viewers see backups, not their content). The backup as a ZIP that `unzip` opens: `manifest.json` (metadata, every file with size and SHA-256) and `content/`. '
        + '`Content-Length` is exact (the backup\'s `size`). 409 while the backup is not successful.',
      produces: ['application/zip'], params: FileParams,
      response: replies({ 200: Type.String({ format: 'binary', description: 'The ZIP' }) }, 404, 409, 503),
    },
  }, async (request, reply) => {
    const file = await app.core.backupFiles.download(actorOf(request), requireId('backup', request.params.backup_id), clientGone(reply));
    sendHeaders(reply, file);
    // A stream skips the serializer; the type provider only knows the schema's string.
    return reply.send(file.stream as never);
  });

  app.head('/:backup_id/file', { schema: { hide: true, params: FileParams } }, async (request, reply) => {
    const file = await app.core.backupFiles.download(actorOf(request), requireId('backup', request.params.backup_id));
    // Planned (the exact length is known) but not read: destroying it releases the repository lock.
    file.stream.destroy();
    sendHeaders(reply, file);
    return reply.send();
  });

  app.post('/upload', {
    // The body is streamed to disk, so the small JSON limit does not apply; core enforces its own.
    bodyLimit: app.core.backupFiles.maxUploadBytes,
    config: { permission: 'backup.create' },
    schema: {
      operationId: 'uploadBackup', tags: ['backups'], summary: 'Upload a backup file as a new backup',
      description: 'Roles: admin, backup_operator. The body is a backup file (as `GET /{backup_id}/file` gives), sent as `application/octet-stream` or `application/zip`. '
        + 'Every entry is checked (paths, symlinks, sizes, SHA-256, expansion) before anything is stored; a file that is not a valid backup file is 400 and leaves nothing behind. '
        + 'The new backup holds the snapshot paths the file names; restores map them to the instance\'s parts.',
      consumes: BACKUP_FILE_MEDIA_TYPES, querystring: UploadQuery,
      response: replies({ 201: Ref(Backup) }, ...BODY_ERRORS, 404, 409, 503),
    },
  }, async (request, reply) => {
    const q = request.query;
    const backup = await app.core.backupFiles.upload(actorOf(request), {
      ...(q.instance !== undefined ? { instance: q.instance } : {}),
      ...(q.label !== undefined ? { label: q.label } : {}),
      ...(q.description !== undefined ? { description: q.description } : {}),
    }, request.raw, clientGone(reply));
    reply.code(201);
    return backupView(backup);
  });
};
