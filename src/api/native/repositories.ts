/** `/api/v1/repositories`: where backups go (admin only; a password only on its own, audited, request). */
import { Type } from 'typebox';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Ref } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { Repository } from './schemas.js';
import { repositoryView } from './views.js';

const CreateBody = Type.Object({
  name: Type.String(),
  location: Type.String({ description: 'As restic spells it: a path, `s3:https://host/bucket/prefix`, `azure:container:/prefix`' }),
  password: Type.Optional(Type.String({ description: 'Opens an existing repository; without one a new repository is made with a generated password' })),
  options: Type.Optional(Type.Record(Type.String(), Type.String(), {
    description: 'Backend options as restic\'s `-o` names them, credentials included (`s3.access-key-id`, `s3.secret-access-key`, `s3.region`, `azure.account-name`, `azure.account-key`, …). Stored sealed; never shown again: listings give only `option_keys`.',
  })),
});

const Params = Type.Object({ name: Type.String() });
const PasswordReply = Type.Object({
  password: Type.String({ description: 'The repository password: `RESTIC_PASSWORD` for restic on the repository\'s location' }),
}, { additionalProperties: false });

export const repositoryRoutes: RoutesPlugin = async (app) => {
  app.get('', {
    schema: { operationId: 'listRepositories', tags: ['repositories'], summary: 'List repositories', description: 'Roles: admin.', response: replies({ 200: Type.Array(Ref(Repository)) }) },
  }, async (request) => (await app.core.repositories.list(actorOf(request))).map(repositoryView));

  app.post('', {
    schema: {
      operationId: 'createRepository', tags: ['repositories'], summary: 'Register (open or create) a repository', description: 'Roles: admin.',
      body: CreateBody, response: replies({ 201: Ref(Repository) }, ...BODY_ERRORS, 409, 503),
    },
  }, async (request, reply) => {
    const { name, location, password, options } = request.body;
    const r = await app.core.repositories.create(actorOf(request), { name, location, ...(password !== undefined ? { password } : {}), ...(options !== undefined ? { options } : {}) });
    reply.code(201);
    return repositoryView(r);
  });

  app.get('/:name/password', {
    schema: {
      operationId: 'getRepositoryPassword', tags: ['repositories'], summary: 'A repository\'s password (for restic)',
      description: 'Roles: admin. Opens the repository with restic around Coffer (the escape hatch). Every call is audited (`repository.password_read`).',
      params: Params, response: replies({ 200: PasswordReply }, 404),
    },
  }, async (request, reply) => {
    // Never kept by a cache or a proxy.
    reply.header('cache-control', 'no-store');
    return { password: await app.core.repositories.password(actorOf(request), request.params.name) };
  });
};
