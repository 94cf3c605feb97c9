/**
 * `POST /backups/upload`: a backup file (as `/backups/items/{id}/file` gives) becomes a new backup
 * of the device. The body is not parsed: the request stream goes to core as it arrives
 * (core.backupFiles.upload spools it to disk under its own size limit and checks every entry),
 * so a file of many gigabytes uploads in constant memory. Its own plugin scope, so that only this
 * route takes binary bodies.
 */
import { BUILTIN_INSTANCE } from '../../../core/index.js';
import { BACKUP_FILE_MEDIA_TYPES, acceptBackupFileBodies, clientGone } from '../../native/backup-files.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { BODY_ERRORS, riverbedReplies } from './errors.js';
import * as S from './schemas.js';
import { backupView } from './views.js';

export const riverbedUploadRoutes: RoutesPlugin = async (app) => {
  acceptBackupFileBodies(app);

  app.post('/backups/upload', {
    // Streamed to disk, so the small JSON limit does not apply; core enforces its own.
    bodyLimit: app.core.backupFiles.maxUploadBytes,
    config: { permission: 'backup.create' },
    schema: {
      operationId: 'riverbedUploadBackup', tags: ['riverbed'], summary: 'Upload a backup file as a new backup of this device',
      description: 'Roles: admin, backup_operator. The body is a backup file, sent as `application/octet-stream`. Every entry is checked (paths, symlinks, sizes, checksums, expansion) '
        + 'before anything is stored: anything that is not a valid backup file is 400 and leaves nothing behind. Answers 201 with the new backup, status `completed`; '
        + 'while the body arrives the backup is listed as `uploading`.',
      consumes: BACKUP_FILE_MEDIA_TYPES,
      response: riverbedReplies({ 201: S.Backup }, [...BODY_ERRORS, 404, 409, 503]),
    },
  }, async (request, reply) => {
    const backup = await app.core.backupFiles.upload(actorOf(request), { instance: BUILTIN_INSTANCE }, request.raw, clientGone(reply));
    reply.code(201);
    reply.header('Location', `${request.url.split('?', 1)[0]!.replace(/\/upload\/?$/, '')}/items/${backup.id}`);
    return backupView(backup);
  });
};
