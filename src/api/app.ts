/**
 * buildApp: the HTTP adapter, configured and ready but not listening (STYLE F7); `coffer serve`
 * listens and closes it, tests `inject` into it. The Core is the caller's: closing the app ends
 * open event streams but does not stop the core.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Core } from '../core/index.js';
import './augment.js';
import { errorHandler, frameworkErrors, notFoundHandler } from './errors.js';
import { dialects } from './dialects/index.js';
import { nativeApi } from './native/index.js';
import { SHARED_SCHEMAS } from './native/schemas.js';
import { authPlugin } from './plugins/auth.js';
import { corePlugin } from './plugins/core.js';
import { docsPlugin, registerOpenApi } from './plugins/docs.js';
import { inputPlugin } from './plugins/input.js';
import { responseValidationPlugin } from './plugins/response-validation.js';
import type { TypeBoxProvider } from './type-provider.js';
import { formatValidationErrors, validatorCompiler } from './validation.js';

export interface BuildOptions {
  /** Fastify's logger: false (default), true, or pino options such as `{ level: 'warn' }`. */
  logger?: FastifyServerOptions['logger'];
  /** Check every JSON response against its route's schema (tests, development). */
  validateResponses?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Comment lines on quiet event streams, every this many ms (default 15 s; tests shorten it). */
  sseHeartbeatMs?: number;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;

export async function buildApp(core: Core, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    schemaErrorFormatter: formatValidationErrors,
    frameworkErrors,
  }).withTypeProvider<TypeBoxProvider>();

  // The shared entity schemas: on the root, so every route (and the OpenAPI document) can refer to them.
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  app.setValidatorCompiler(validatorCompiler(SHARED_SCHEMAS));
  // The native API is the root surface: its error and not-found replies are the defaults.
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(corePlugin, { core, sseHeartbeatMs: opts.sseHeartbeatMs ?? DEFAULT_SSE_HEARTBEAT_MS });
  await app.register(inputPlugin);
  await app.register(authPlugin);
  if (opts.validateResponses) await app.register(responseValidationPlugin, { shared: SHARED_SCHEMAS });
  await registerOpenApi(app, core.identity.swVersion);

  await app.register(docsPlugin);
  await app.register(nativeApi);
  await app.register(dialects);
  await app.ready();
  return app;
}
