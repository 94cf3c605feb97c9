/**
 * Cloud Connector configuration backup (docs/dialects.md) at /api/v1/configuration/backup: a thin adapter
 * over core.configuration, with Syncano's shapes, words and errors. POST takes `{"password"}` and
 * answers the ZIP; PUT takes multipart form fields `backup` (the file) and `password`, restores,
 * restarts Coffer's services in-process and answers 204.
 */
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CoreError } from '../../../core/index.js';
import { actorOf } from '../../plugins/auth.js';
import type { RoutesPlugin } from '../../type-provider.js';
import { closeJsonBodies } from '../../validation.js';
import { codeReplies, configurationErrorHandler, configurationNotFound } from './errors.js';

/** Far above any configuration ZIP (its document is at most 32 MiB and compresses well). */
const MAX_BACKUP_FILE = 32 * 1024 * 1024;
const MAX_PASSWORD_BYTES = 4096;

const ExportBody = Type.Object({
  password: Type.String({ description: 'The password that seals the sensitive values (repository passwords, password and API-key hashes, the server secret); needed to restore' }),
});

const RestoreForm = Type.Object({
  backup: Type.String({ format: 'binary', description: 'A configuration backup file, as POST made it' }),
  password: Type.String({ description: 'The password chosen when the backup was made' }),
}, { required: ['backup', 'password'] });

function invalidRequest(field: string, message: string): CoreError {
  return new CoreError('invalid', `${field}: ${message}`, field);
}

/** The form's `backup` file and `password` field; other parts are read and dropped. */
async function readRestoreForm(request: FastifyRequest): Promise<{ backup: Buffer | undefined; password: string | undefined }> {
  if (!request.isMultipart()) throw invalidRequest('backup', 'the request must be multipart/form-data with the fields backup and password');
  let backup: Buffer | undefined;
  let password: string | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const data = await part.toBuffer();
      if (part.fieldname === 'backup') backup = data;
      else if (part.fieldname === 'password') password = data.toString('utf8');
    } else if (part.fieldname === 'password') {
      if (part.valueTruncated) throw invalidRequest('password', `is longer than ${MAX_PASSWORD_BYTES} bytes`);
      password = typeof part.value === 'string' ? part.value : String(part.value);
    } else if (part.fieldname === 'backup') {
      // A field rather than a file (curl -F backup=<text): its bytes are the file.
      backup = Buffer.from(String(part.value), 'utf8');
    }
  }
  return { backup, password };
}

export const configurationBackupApi: RoutesPlugin = async (app) => {
  // Under /api/v1 and a native route in all but its words: a field it does not know is a 400 naming it.
  app.addHook('onRoute', closeJsonBodies);
  app.setErrorHandler(configurationErrorHandler);
  app.setNotFoundHandler(configurationNotFound);
  await app.register(multipart, {
    limits: { fileSize: MAX_BACKUP_FILE, files: 2, fields: 4, parts: 6, fieldSize: MAX_PASSWORD_BYTES },
  });

  app.post('', {
    schema: {
      operationId: 'exportConfiguration', tags: ['configuration'], summary: 'Back up Coffer\'s configuration (ZIP)',
      description: 'Role: admin. Coffer\'s whole configuration (repositories and their passwords, instances and parts, schedules, users and roles, '
        + 'API-key hashes, settings, the server secret) as a ZIP that `unzip` opens: `configuration.json` and `README.txt`. Only the sensitive values are '
        + 'encrypted (scrypt + AES-256-GCM with a key derived from `password`); the ZIP itself is not password-protected.',
      body: ExportBody, produces: ['application/zip'],
      response: codeReplies({ 200: Type.String({ format: 'binary', description: 'The configuration backup (application/zip)' }) }, 503),
    },
  }, async (request, reply) => {
    const zip = await app.core.configuration.exportEncrypted(actorOf(request), request.body.password);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    reply.header('Content-Type', 'application/zip');
    reply.header('Content-Disposition', `attachment; filename="coffer-configuration-${stamp}.zip"`);
    // A Buffer skips the serializer; the type provider only knows the schema's string.
    return reply.send(zip as never);
  });

  app.put('', {
    // Admins only, checked before the form (up to two files of 32 MiB) is read.
    config: { permission: 'config.manage' },
    // The form is described for the OpenAPI document; core checks what arrives (file, password).
    validatorCompiler: () => (data: unknown) => ({ value: data }),
    schema: {
      operationId: 'restoreConfiguration', tags: ['configuration'], summary: 'Restore Coffer\'s configuration',
      description: 'Role: admin. multipart/form-data with the fields `backup` (a file POST made) and `password`. Everything is checked before anything '
        + 'changes; then the configuration is replaced in one transaction (backups and repository data are never deleted; an instance that has backups '
        + 'stays) and Coffer\'s services restart in this process. 400 INVALID_REQUEST for a missing or invalid file or a missing or wrong password, '
        + 'with the running configuration untouched.',
      consumes: ['multipart/form-data'], body: RestoreForm,
      response: codeReplies({ 204: Type.Null({ description: 'Restored; services restarted' }) }, 503),
    },
  }, async (request, reply) => {
    const actor = actorOf(request);
    const { backup, password } = await readRestoreForm(request);
    if (!backup) throw invalidRequest('backup', 'is required: the configuration backup file (form field backup)');
    if (password === undefined) throw invalidRequest('password', 'is required: the password chosen when the backup was made (form field password)');
    await app.core.configuration.importEncrypted(actor, backup, password);
    reply.code(204);
    return null;
  });
};
