/**
 * buildApp: the HTTP adapter, configured and ready but not listening (STYLE F7); `coffer serve`
 * listens and closes it, tests `inject` into it. The Core is the caller's: closing the app ends
 * open event streams but does not stop the core.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { type Core, DEFAULT_TRANSFER_IDLE_MS } from '../core/index.js';
import './augment.js';
import { errorHandler, frameworkErrors, notFoundHandler } from './errors.js';
import { dialects } from './dialects/index.js';
import { nativeApi } from './native/index.js';
import { SHARED_SCHEMAS } from './native/schemas.js';
import { authPlugin } from './plugins/auth.js';
import { corePlugin } from './plugins/core.js';
import { docsPlugin, registerOpenApi } from './plugins/docs.js';
import { frontPagePlugin } from './plugins/front-page.js';
import { inputPlugin } from './plugins/input.js';
import { redactedRequest } from './plugins/log-redaction.js';
import { requestLogPlugin } from './plugins/request-log.js';
import { sameOriginPlugin } from './plugins/same-origin.js';
import { transferTimeoutsPlugin } from './plugins/transfer-timeouts.js';
import { responseValidationPlugin } from './plugins/response-validation.js';
import type { TypeBoxProvider } from './type-provider.js';
import { formatValidationErrors, validatorCompiler } from './validation.js';

export interface BuildOptions {
  /** Fastify's logger: false (default), true, or pino options such as `{ level: 'warn' }`. */
  logger?: FastifyServerOptions['logger'];
  /** A logger of the caller's (`coffer serve` gives the server's one pino logger); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger;
  /** Check every JSON response against its route's schema (tests, development). */
  validateResponses?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Comment lines on quiet event streams, every this many ms (default 15 s; tests shorten it). */
  sseHeartbeatMs?: number;
  /**
   * A request body that stops arriving, or a streamed response (a backup file) that the client
   * stops reading, for this many ms ends the connection (default 60 s; 0: never). See transfer-timeouts.ts.
   */
  transferIdleMs?: number;
  /** Fastify's trustProxy: false (default), true, or the proxies' addresses (comma-separated IPs or CIDRs). */
  trustProxy?: boolean | string;
  /** Serve HTTPS with this certificate (and chain) and key, PEM; `app.server` is then a TLS server. */
  https?: { cert: Buffer; key: Buffer };
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;

/** The caller's logger, or logger options, with the request serializer that keeps credentials out of the log. */
function loggerOf(opts: BuildOptions): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (opts.loggerInstance) return { loggerInstance: opts.loggerInstance.child({ component: 'http' }, { serializers: { req: redactedRequest as never } }) };
  if (!opts.logger) return { logger: false };
  const base = opts.logger === true ? {} : opts.logger;
  return { logger: { ...base, serializers: { ...base.serializers, req: redactedRequest as never } } };
}

export async function buildApp(core: Core, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Fastify types an HTTPS instance apart; the adapter is the same either way.
    ...(opts.https ? { https: opts.https } as object : {}),
    ...loggerOf(opts),
    // One line per request, at a level by its status: requestLogPlugin.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    // No deadline for a whole request or connection (Node's requestTimeout, Fastify's
    // connectionTimeout): a 60 GiB upload or download may rightly take hours, and a socket idle
    // timeout would also cut a request the server is slow to answer. Stalled bodies and downloads
    // end by the progress timeouts of transfer-timeouts.ts; slow headers by Node's headersTimeout
    // (60 s); idle keep-alive connections by keepAliveTimeout.
    requestTimeout: 0,
    connectionTimeout: 0,
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
  await app.register(requestLogPlugin);
  await app.register(transferTimeoutsPlugin, { idleMs: opts.transferIdleMs ?? DEFAULT_TRANSFER_IDLE_MS });
  await app.register(inputPlugin);
  // Before authentication: a cross-site request is refused whoever's credentials the browser added.
  await app.register(sameOriginPlugin);
  await app.register(authPlugin);
  if (opts.validateResponses) await app.register(responseValidationPlugin, { shared: SHARED_SCHEMAS });
  await registerOpenApi(app, core.identity.swVersion);

  await app.register(docsPlugin);
  await app.register(frontPagePlugin, { version: core.identity.swVersion });
  await app.register(nativeApi);
  await app.register(dialects);
  await app.ready();
  return app;
}
