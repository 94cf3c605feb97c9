/** `coffer serve`: the server. Core (catalog, jobs, schedules) plus the HTTP API, stopped gracefully on SIGINT/SIGTERM. */
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { buildApp } from '../../api/index.js';
import { Core, logLineOf } from '../../core/index.js';
import { KantoDevice, type KantoMode, parseGoDuration } from '../../mqtt/index.js';
import { type LogFormat, type ServeConfig, coreLocations, explainStartupError, resolveServeConfig } from '../serve-config.js';
import { createServerLogger, defaultLogFormat, noticeLogger } from '../server-log.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { type TlsMaterial, cleartextWarning, loadTlsFiles, reloadTlsOnSighup } from '../tls.js';

export async function serveCommand(flags: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  const cfg: ServeConfig = resolveServeConfig(flags);
  const logger = createServerLogger({ level: cfg['log-level'], format: (cfg['log-format'] as LogFormat | undefined) ?? defaultLogFormat() });
  const onRejection = keepServingOnRejection(logger);
  // Only watched: Node still ends the process (and prints the exception on stderr) after this line.
  const onException = (err: Error) => logger.fatal({ err }, 'uncaught exception; the server stops');
  for (const w of cfg.warnings) logger.warn(w);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtExceptionMonitor', onException);
  try {
    return await serve(cfg, logger, signal);
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtExceptionMonitor', onException);
  }
}

/**
 * A promise rejected with no handler is a bug, but one in a single job or request: the server logs
 * it, with what the error carries, and goes on serving (Node's default would end the process and
 * every other job with it). An uncaught exception stays fatal: the state it leaves is unknown.
 */
function keepServingOnRejection(logger: Logger): (reason: unknown) => void {
  return (reason) => {
    const code = (reason as { code?: unknown } | null)?.code;
    const name = reason instanceof Error ? reason.name : typeof reason;
    logger.error({ err: reason ?? 'undefined' }, `unhandled promise rejection (${name}${code !== undefined ? ` ${String(code)}` : ''}); the server keeps running`);
  };
}

async function serve(cfg: ServeConfig, logger: Logger, signal: AbortSignal): Promise<number> {
  const notices = noticeLogger(logger);
  // Before anything opens: a certificate that does not load stops the start with the file named.
  const tls = tlsOf(cfg);
  const proxy = trustProxy(cfg['trust-proxy']);
  let core: Core;
  try {
    core = await Core.start({
      ...coreLocations(cfg),
      role: cfg.role as 'all' | 'api' | 'worker',
      jobConcurrency: cfg.jobs,
      maxUploadBytes: cfg['max-upload-bytes'],
      ...(cfg['max-unpacked-bytes'] !== undefined ? { maxUnpackedBytes: cfg['max-unpacked-bytes'] } : {}),
      uploadIdleMs: cfg['transfer-idle-timeout'] * 1000,
      maxConcurrentUploads: cfg['max-concurrent-uploads'],
      ...(cfg['engine-workers'] !== undefined ? { engineWorkers: cfg['engine-workers'] } : {}),
      limits: { maxBackupsPerInstance: cfg['max-backups-per-instance'], maxBackupsPerAccount: cfg['max-backups-per-account'], quotaIncludesAdmins: cfg['quota-includes-admins'] },
      identity: { hostname: hostname(), model: cfg.model, serial: cfg.serial },
      ...(cfg.adminPassword ? { adminPassword: cfg.adminPassword } : {}),
      ...(cfg.adminApiKey ? { adminApiKey: cfg.adminApiKey } : {}),
      logger,
    });
  } catch (err) {
    throw new UsageError(`cannot start: ${explainStartupError(err, cfg)}`);
  }
  if (core.bootstrap) notices.warn({ notice: 'credentials' }, credentialsNotice(core.bootstrap, cfg['data-dir']));
  const app = cfg.role === 'worker' ? undefined : await buildApp(core, {
    loggerInstance: logger,
    validateResponses: cfg['validate-responses'],
    bodyLimit: cfg['body-limit'],
    transferIdleMs: cfg['transfer-idle-timeout'] * 1000,
    trustProxy: proxy,
    ...(tls ? { https: { cert: tls.material.cert, key: tls.material.key } } : {}),
  });
  try {
    if (app) await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await core.stop();
    throw new UsageError(`cannot listen on ${cfg.host}:${cfg.port}: ${(err as Error).message}`);
  }
  let kanto: KantoDevice | undefined;
  try {
    kanto = startKanto(core, cfg, logger.child({ component: 'mqtt' }));
  } catch (err) {
    await app?.close();
    await core.stop();
    throw new UsageError(`cannot start the MQTT adapter: ${explainStartupError(err, cfg)}`);
  }
  const address = app?.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  const where = app ? `${tls ? 'https' : 'http'}://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}` : 'no HTTP (role worker)';
  logger.info({ data_dir: cfg['data-dir'], catalog: core.catalog.describe, role: cfg.role }, `coffer serving ${where}; data ${cfg['data-dir']}; catalog ${core.catalog.describe}; role ${cfg.role}`);
  if (app && tls) logger.info(`TLS certificate: ${tls.material.describe}`);
  const unencrypted = app && typeof address === 'object' && address
    ? cleartextWarning({ address: address.address, tls: tls !== undefined, trustProxy: proxy !== false })
    : undefined;
  if (unencrypted) logger.warn(unencrypted);
  const stopReloading = app && tls
    ? reloadTlsOnSighup(app.server as unknown as TlsServer, tls.files, { info: (msg) => logger.info(msg), error: (msg, err) => logger.error({ err }, msg) })
    : undefined;
  logger.info(recoveryHint(cfg['data-dir']));
  notices.info({ notice: 'listening', url: app ? where : null }, `coffer listening on ${where}`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  logger.info('shutting down: finishing requests, interrupting running jobs');
  stopReloading?.();
  await kanto?.stop();
  await app?.close();
  await core.stop();
  return EXIT.ok;
}

/** The HTTPS certificate and key when both are set (serve-config refuses one alone), read and checked. */
function tlsOf(cfg: ServeConfig): { files: { cert: string; key: string }; material: TlsMaterial } | undefined {
  const cert = cfg['tls-cert'];
  const key = cfg['tls-key'];
  if (cert === undefined || key === undefined) return undefined;
  const files = { cert: path.resolve(cert), key: path.resolve(key) };
  try {
    return { files, material: loadTlsFiles(files) };
  } catch (err) {
    throw new UsageError(`cannot start: ${(err as Error).message}`);
  }
}

/** The admin's credentials, made on the first start of an empty data directory: shown this once (only hashes are kept). */
function credentialsNotice(b: NonNullable<Core['bootstrap']>, dataDir: string): string {
  const lines = [`Created user admin.${b.generated.password ? ` Password: ${b.password}` : ''}${b.generated.apiKey ? ` API key: ${b.apiKey}` : ''}`];
  if (b.generated.password || b.generated.apiKey) lines.push('Store them now: they are not shown again.');
  lines.push(recoveryHint(dataDir));
  return lines.join('\n');
}

/** How to get back in when the admin's credentials are lost: shown with them, and at every start. */
function recoveryHint(dataDir: string): string {
  return `Lost credentials? \`coffer admin reset-password [USER] --data-dir ${dataDir}\` sets a new password (\`coffer admin create-key USER\` makes an API key).`;
}

/** `--trust-proxy`: off, on for any proxy, or the proxies' addresses as Fastify takes them. */
function trustProxy(value: string | undefined): boolean | string {
  if (value === undefined || /^(|0|false|no|off)$/i.test(value.trim())) return false;
  return /^(1|true|yes|on)$/i.test(value.trim()) ? true : value.trim();
}

/** The Kanto File Backup device over MQTT, when a broker is configured. */
function startKanto(core: Core, cfg: ServeConfig, logger: Logger): KantoDevice | undefined {
  const url = cfg['mqtt-url'];
  if (!url) return undefined;
  return KantoDevice.start(core, {
    mqtt: {
      url, username: cfg['mqtt-username'], password: cfg['mqtt-password'],
      caFile: cfg['mqtt-ca'], certFile: cfg['mqtt-cert'], keyFile: cfg['mqtt-key'], insecure: cfg['mqtt-insecure'],
    },
    thingId: cfg['kanto-thing-id'],
    featureId: cfg['kanto-feature-id'],
    dir: cfg['kanto-dir'] ? path.resolve(cfg['kanto-dir']) : undefined,
    mode: cfg['kanto-mode'] as KantoMode,
    storageDir: path.resolve(cfg['kanto-storage'] ?? path.join(cfg['data-dir'], 'kanto')),
    keepUploaded: cfg['kanto-keep-uploaded'],
    periodMs: parseGoDuration(cfg['kanto-period']),
    allowPrivateUrls: cfg['kanto-allow-private-urls'],
    maxDownloadBytes: cfg['kanto-max-download-bytes'] ?? cfg['max-upload-bytes'],
  }, logLineOf(logger));
}
