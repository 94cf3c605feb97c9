/**
 * A partial backup's `archive`: `GET /archives/{token}/backup.zip` streams the backup file (ZIP)
 * to whoever holds the link, without an API key (Syncano's documentation: "can be downloaded by any user that
 * knows the url"). Core checks the signed token (core.archiveLinks: forged, altered, expired, or
 * its backup deleted or not successful → 404) and streams the file in constant memory.
 */
import { Type } from 'typebox';
import type { RoutesPlugin } from '../../type-provider.js';
import { syncanoReplies } from './errors.js';

export const ARCHIVE_FILE = 'backup.zip';

export const syncanoArchiveRoutes: RoutesPlugin = async (app) => {
  app.get(`/archives/:token/${ARCHIVE_FILE}`, {
    config: { public: true },
    schema: {
      operationId: 'syncanoGetArchive', tags: ['syncano'], summary: 'Download a partial backup\'s archive (ZIP) by its signed link',
      description: 'No API key: the token in the path is the credential. It expires (a day after it was handed out) and stops working when the backup is deleted; every read of the backup hands out a fresh link. 404 for a link that is not (or no longer) valid.',
      produces: ['application/zip'], params: Type.Object({ token: Type.String() }), security: [],
      response: syncanoReplies({ 200: { type: 'string', format: 'binary', description: 'The backup file (application/zip)' } }, [404, 500, 503], { public: true }),
    },
  }, async (request, reply) => {
    const id = await app.core.archiveLinks.verify(request.params.token);
    // The download stops (and stops reading the repository) when the client goes away.
    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    const file = await app.core.backupFiles.downloadByLink(id, abort.signal);
    reply.header('Content-Type', 'application/zip');
    reply.header('Content-Length', String(file.size));
    reply.header('Content-Disposition', `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`);
    reply.header('Cache-Control', 'private, no-store');
    return reply.send(file.stream as never);
  });
};
