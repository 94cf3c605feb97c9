/**
 * Syncano's backups: full and partial, per instance (`/instances/{instance}/backups/{full,partial}/`:
 * POST, GET, OPTIONS) and across instances (`/backups/{full,partial}/`: GET; `…/{id}/`: GET, DELETE).
 * Each call is one core call; core owns every rule (quota, query_args, who may do what).
 */
import type { FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { type Backup, type BackupScope, CoreError } from '../../../core/index.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { syncanoReplies } from './errors.js';
import { backupListMetadata } from './metadata.js';
import { type PageQuery as PageParams, keysetPage } from './paging.js';
import * as S from './schemas.js';
import { fullBackupView, partialBackupView } from './views.js';

const SCOPES: readonly BackupScope[] = ['full', 'partial'];
const TITLE: Record<BackupScope, string> = { full: 'Full backups', partial: 'Partial backups' };
/** The scope in operationIds: syncanoCreateFullBackup, syncanoListPartialBackups… */
const NAME: Record<BackupScope, string> = { full: 'Full', partial: 'Partial' };

/** A path id: digits only, within the catalog's integer range; anything else is the same 404 as an unknown id. */
export function pathId(raw: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2_147_483_647) throw new CoreError('not_found', `${what} ${raw.slice(0, 64)} not found`);
  return Number(raw);
}

/** query_args as sent: an object in JSON bodies, JSON text in form posts. */
function parseQueryArgs(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new CoreError('invalid', 'query_args: is not valid JSON', 'query_args');
  }
}

const requestPath = (request: FastifyRequest) => request.url.split('?', 1)[0]!;

export const syncanoBackupRoutes: RoutesPlugin = async (app) => {
  const archiveUrl = (request: FastifyRequest, b: Backup): string | null => {
    const link = app.core.archiveLinks.issue(actorOf(request), b);
    return link && `${request.protocol}://${request.host}/v1/archives/${link.token}/backup.zip`;
  };
  const view = (request: FastifyRequest, b: Backup) => (b.scope === 'partial' ? partialBackupView(b, archiveUrl(request, b)) : fullBackupView(b));

  const list = async (request: FastifyRequest, scope: BackupScope, query: PageParams, instance?: string) => {
    const actor = actorOf(request);
    // An unknown instance is 404 (core's list would answer an empty page).
    if (instance !== undefined) await app.core.instances.get(actor, instance);
    return keysetPage(query, requestPath(request), async (r) => (await app.core.backups.list(actor, {
      ...(instance !== undefined ? { instance } : {}), scope, sort: 'id', order: r.order, limit: r.limit, offset: 0,
      ...(r.idAbove !== undefined ? { idAbove: r.idAbove } : {}), ...(r.idBelow !== undefined ? { idBelow: r.idBelow } : {}),
    })).items, (b) => view(request, b));
  };

  /** A backup of this scope, or 404 (a full backup is not found at a partial backup's path, and the other way round). */
  const backupOf = async (request: FastifyRequest, scope: BackupScope, rawId: string): Promise<Backup> => {
    const b = await app.core.backups.get(actorOf(request), pathId(rawId, 'backup'));
    if (b.scope !== scope) throw new CoreError('not_found', `backup ${b.id} is not a ${scope} backup`);
    return b;
  };

  for (const scope of SCOPES) {
    const Item = scope === 'full' ? S.FullBackup : S.PartialBackup;
    const tags = ['syncano'];

    app.post(`/instances/:instance/backups/${scope}/`, {
      schema: {
        operationId: `syncanoCreate${NAME[scope]}Backup`, tags, summary: `Create a ${scope} backup of an instance`,
        description: `Roles: admin, backup_operator. Answers 201 with the backup, status \`scheduled\`; poll \`links.self\` until \`success\` or \`error\`. At most \`max-backups-per-account\` live backups (default 25) per account: the next is 400.`
          + (scope === 'partial' ? ' `query_args` (required) selects parts and items: see OPTIONS for the schema.' : ''),
        params: S.InstanceParams, body: scope === 'full' ? S.BackupBody : S.PartialBackupBody,
        response: syncanoReplies({ 201: Item }, [400, 404, 409, 413, 415]),
      },
    }, async (request, reply) => {
      const body = request.body as Static<typeof S.PartialBackupBody>;
      const { backup } = await app.core.backups.create(actorOf(request), {
        instance: request.params.instance, type: 'full', scope, label: body.label, description: body.description,
        ...(scope === 'partial' ? { query_args: parseQueryArgs(body.query_args) } : {}),
      });
      reply.code(201);
      return view(request, backup);
    });

    app.get(`/instances/:instance/backups/${scope}/`, {
      schema: {
        operationId: `syncanoListInstance${NAME[scope]}Backups`, tags, summary: `${TITLE[scope]} of an instance`, description: 'Roles: all. Paged: follow `next` and `prev`.',
        params: S.InstanceParams, querystring: S.PageQuery, response: syncanoReplies({ 200: S.ListOf(Item) }, [400, 404]),
      },
    }, async (request) => list(request, scope, request.query, request.params.instance));

    app.options(`/instances/:instance/backups/${scope}/`, {
      schema: {
        operationId: `syncanoDescribe${NAME[scope]}Backups`, tags, summary: `What POST takes (${scope} backups)`, description: 'Roles: all.' + (scope === 'partial' ? ' `actions.POST.query_args.schema` is the JSON schema of query_args for this instance\'s parts.' : ''),
        params: S.InstanceParams, response: syncanoReplies({ 200: S.Metadata }, [404]),
      },
    }, async (request) => backupListMetadata(scope, (await app.core.instances.get(actorOf(request), request.params.instance)).parts));

    app.get(`/backups/${scope}/`, {
      schema: {
        operationId: `syncanoList${NAME[scope]}Backups`, tags, summary: `${TITLE[scope]} of every instance`, description: 'Roles: all. Paged: follow `next` and `prev`.',
        querystring: S.PageQuery, response: syncanoReplies({ 200: S.ListOf(Item) }, [400]),
      },
    }, async (request) => list(request, scope, request.query));

    app.get(`/backups/${scope}/:id/`, {
      schema: { operationId: `syncanoGet${NAME[scope]}Backup`, tags, summary: `One ${scope} backup`, description: 'Roles: all.', params: S.IdParams, response: syncanoReplies({ 200: Item }, [404]) },
    }, async (request) => view(request, await backupOf(request, scope, request.params.id)));

    app.delete(`/backups/${scope}/:id/`, {
      schema: {
        operationId: `syncanoDelete${NAME[scope]}Backup`, tags, summary: `Delete a ${scope} backup`, description: 'Roles: admin. Answers 204 with no body; its archive link stops working. 409 while a backup or restore job uses it.',
        params: S.IdParams, response: syncanoReplies({ 204: { type: 'null', description: 'Deleted' } }, [404, 409, 503]),
      },
    }, async (request, reply) => {
      const b = await backupOf(request, scope, request.params.id);
      await app.core.backups.remove(actorOf(request), b.id);
      reply.code(204);
      return null;
    });
  }
};
