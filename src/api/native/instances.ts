/** `/api/v1/instances`: the things backed up, with their parts (core validates the parts). */
import { Type } from 'typebox';
import { MAX_INSTANCE_DESCRIPTION, NAME_PATTERN, PART_KINDS } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref, StringEnum, pick } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { COFFER_DATA, Instance } from './schemas.js';
import { instanceView } from './views.js';

const PartInput = Type.Object({
  name: Type.String({ pattern: NAME_PATTERN }),
  kind: Type.Optional(StringEnum(PART_KINDS, { description: 'Default directory' })),
  path: Type.String({ description: 'Absolute path' }),
  exclude: Type.Optional(Type.Array(Type.String())),
  include_coffer_data: Type.Optional(Type.Boolean({ description: COFFER_DATA })),
});
const instanceFields = {
  description: Type.Optional(Nullable(Type.String({ maxLength: MAX_INSTANCE_DESCRIPTION }))),
  parts: Type.Optional(Type.Array(PartInput)),
  repository: Type.Optional(Nullable(Type.String({ description: 'Repository name (default: the default repository)' }))),
};
const FIELDS = ['name', 'description', 'parts', 'repository'] as const;
const CreateBody = Type.Object({ name: Type.String({ pattern: NAME_PATTERN }), ...instanceFields });
const PutBody = Type.Object({ name: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'Must equal the name in the path when given' })), ...instanceFields });
const Params = Type.Object({ name: Type.String() });

export const instanceRoutes: RoutesPlugin = async (app) => {
  app.post('', {
    schema: { operationId: 'createInstance', tags: ['instances'], summary: 'Create an instance', description: 'Roles: admin.', body: CreateBody, response: replies({ 201: Ref(Instance) }, ...BODY_ERRORS, 409) },
  }, async (request, reply) => {
    const i = await app.core.instances.create(actorOf(request), pick(request.body, FIELDS));
    reply.code(201);
    return instanceView(i);
  });

  app.get('', {
    schema: { operationId: 'listInstances', tags: ['instances'], summary: 'List instances', description: 'Roles: all.', response: replies({ 200: Type.Array(Ref(Instance)) }) },
  }, async (request) => (await app.core.instances.list(actorOf(request))).map(instanceView));

  app.get('/:name', {
    schema: { operationId: 'getInstance', tags: ['instances'], summary: 'One instance', description: 'Roles: all.', params: Params, response: replies({ 200: Ref(Instance) }, 404) },
  }, async (request) => instanceView(await app.core.instances.get(actorOf(request), request.params.name)));

  app.put('/:name', {
    schema: {
      operationId: 'putInstance', tags: ['instances'], summary: 'Create (201) or replace (200) an instance', description: 'Roles: admin. Replaces description, parts and repository.',
      params: Params, body: PutBody, response: replies({ 200: Ref(Instance), 201: Ref(Instance) }, ...BODY_ERRORS),
    },
  }, async (request, reply) => {
    const r = await app.core.instances.put(actorOf(request), request.params.name, pick(request.body, FIELDS));
    reply.code(r.created ? 201 : 200);
    return instanceView(r.instance);
  });

  app.delete('/:name', {
    schema: {
      operationId: 'deleteInstance', tags: ['instances'], summary: 'Delete an instance', description: 'Roles: admin. Answers 204; 409 while it has backups or running jobs.',
      params: Params, response: replies({ 204: Type.Null() }, 404, 409),
    },
  }, async (request, reply) => {
    await app.core.instances.remove(actorOf(request), request.params.name);
    reply.code(204);
    return null;
  });
};
