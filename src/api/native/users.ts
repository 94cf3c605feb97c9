/** `/api/v1/users` and their API keys (a key is shown once, when made; users manage their own keys). */
import { Type } from 'typebox';
import { MAX_USER_PASSWORD, MIN_USER_PASSWORD, ROLES, USER_NAME_PATTERN } from '../../core/index.js';
import { BODY_ERRORS, replies } from '../errors-schema.js';
import { actorOf } from '../plugins/auth.js';
import { Nullable, Ref, StringEnum } from '../schema-kit.js';
import type { RoutesPlugin } from '../type-provider.js';
import { requireId } from './ids.js';
import { ApiKey, NewApiKey, User } from './schemas.js';
import { keyView, newKeyView, userView } from './views.js';

const CreateBody = Type.Object({
  name: Type.String({ pattern: USER_NAME_PATTERN }),
  role: StringEnum(ROLES),
  password: Type.Optional(Nullable(Type.String({
    minLength: MIN_USER_PASSWORD, maxLength: MAX_USER_PASSWORD,
    description: `For HTTP Basic; ${MIN_USER_PASSWORD} to ${MAX_USER_PASSWORD} characters. Without one, the user signs in with API keys only`,
  }))),
});
const UserParams = Type.Object({ name: Type.String() });

export const userRoutes: RoutesPlugin = async (app) => {
  app.post('', {
    schema: { operationId: 'createUser', tags: ['users'], summary: 'Create a user', description: 'Roles: admin.', body: CreateBody, response: replies({ 201: Ref(User) }, ...BODY_ERRORS, 409) },
  }, async (request, reply) => {
    const { name, role, password } = request.body;
    const u = await app.core.auth.createUser(actorOf(request), { name, role, ...(password !== undefined ? { password } : {}) });
    reply.code(201);
    return userView(u);
  });

  app.get('', {
    schema: { operationId: 'listUsers', tags: ['users'], summary: 'List users', description: 'Roles: admin.', response: replies({ 200: Type.Array(Ref(User)) }) },
  }, async (request) => (await app.core.auth.listUsers(actorOf(request))).map(userView));

  app.delete('/:name', {
    schema: {
      operationId: 'deleteUser', tags: ['users'], summary: 'Delete a user and their keys', description: 'Roles: admin. Answers 204; the last admin cannot be deleted (409).',
      params: UserParams, response: replies({ 204: Type.Null() }, 404, 409),
    },
  }, async (request, reply) => {
    await app.core.auth.deleteUser(actorOf(request), request.params.name);
    reply.code(204);
    return null;
  });

  app.post('/:name/keys', {
    schema: {
      operationId: 'createApiKey', tags: ['users'], summary: 'Make an API key (returned this once)', description: 'Roles: admin, or the user themselves.',
      params: UserParams, body: Type.Object({ label: Type.Optional(Nullable(Type.String())) }), response: replies({ 201: Ref(NewApiKey) }, ...BODY_ERRORS, 404),
    },
  }, async (request, reply) => {
    const k = await app.core.auth.createKey(actorOf(request), request.params.name, request.body.label);
    reply.code(201);
    return newKeyView(k);
  });

  app.get('/:name/keys', {
    schema: {
      operationId: 'listApiKeys', tags: ['users'], summary: 'List a user\'s API keys (never the keys themselves)', description: 'Roles: admin, or the user themselves.',
      params: UserParams, response: replies({ 200: Type.Array(Ref(ApiKey)) }, 404),
    },
  }, async (request) => (await app.core.auth.listKeys(actorOf(request), request.params.name)).map(keyView));

  app.delete('/:name/keys/:key_id', {
    schema: {
      operationId: 'deleteApiKey', tags: ['users'], summary: 'Delete an API key', description: 'Roles: admin, or the user themselves. Answers 204.',
      params: Type.Object({ name: Type.String(), key_id: Type.String({ description: '`key-<n>` or `<n>`' }) }), response: replies({ 204: Type.Null() }, 404),
    },
  }, async (request, reply) => {
    await app.core.auth.deleteKey(actorOf(request), request.params.name, requireId('key', request.params.key_id));
    reply.code(204);
    return null;
  });
};
