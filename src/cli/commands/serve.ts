/** `coffer serve`: the server. Core (catalog, jobs, schedules) plus the HTTP API, stopped gracefully on SIGINT/SIGTERM. */
import { hostname } from 'node:os';
import * as path from 'node:path';
import { buildApp } from '../../api/index.js';
import { Core } from '../../core/index.js';
import { KantoDevice, type KantoMode, parseGoDuration } from '../../mqtt/index.js';
import { type ServeConfig, coreLocations, explainStartupError, resolveServeConfig } from '../serve-config.js';
import { EXIT, UsageError } from '../exit-codes.js';

function logLine(level: string, msg: string, err?: unknown): void {
  const rec: Record<string, unknown> = { level, time: new Date().toISOString(), msg };
  if (err !== undefined) rec['err'] = err instanceof Error ? { message: err.message, stack: err.stack } : String(err);
  process.stderr.write(JSON.stringify(rec) + '\n');
}

export async function serveCommand(flags: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  const cfg: ServeConfig = resolveServeConfig(flags);
  const quiet = cfg['log-level'] === 'silent';
  const log = (msg: string, err?: unknown) => {
    if (!quiet) logLine(err === undefined ? 'info' : 'error', msg, err);
  };
  if (!quiet) for (const w of cfg.warnings) logLine('warn', w);
  const onRejection = keepServingOnRejection(log);
  process.on('unhandledRejection', onRejection);
  try {
    return await serve(cfg, log, signal);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

/**
 * A promise rejected with no handler is a bug, but one in a single job or request: the server logs
 * it, with what the error carries, and goes on serving (Node's default would end the process and
 * every other job with it). An uncaught exception stays fatal: the state it leaves is unknown.
 */
function keepServingOnRejection(log: (msg: string, err?: unknown) => void): (reason: unknown) => void {
  return (reason) => {
    const code = (reason as { code?: unknown } | null)?.code;
    const name = reason instanceof Error ? reason.name : typeof reason;
    log(`unhandled promise rejection (${name}${code !== undefined ? ` ${String(code)}` : ''}); the server keeps running`, reason ?? 'undefined');
  };
}

async function serve(cfg: ServeConfig, log: (msg: string, err?: unknown) => void, signal: AbortSignal): Promise<number> {
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
      log,
    });
  } catch (err) {
    throw new UsageError(`cannot start: ${explainStartupError(err, cfg)}`);
  }
  if (core.bootstrap) {
    const b = core.bootstrap;
    // Shown once, on the first start of an empty data directory; only hashes are kept.
    process.stdout.write(`Created user admin.${b.generated.password ? ` Password: ${b.password}` : ''}${b.generated.apiKey ? ` API key: ${b.apiKey}` : ''}\n`);
    if (b.generated.password || b.generated.apiKey) process.stdout.write('Store them now: they are not shown again.\n');
    process.stdout.write(`${recoveryHint(cfg['data-dir'])}\n`);
  }
  const app = cfg.role === 'worker' ? undefined : await buildApp(core, {
    logger: cfg['log-level'] === 'silent' ? false : { level: cfg['log-level'] },
    validateResponses: cfg['validate-responses'],
    bodyLimit: cfg['body-limit'],
    transferIdleMs: cfg['transfer-idle-timeout'] * 1000,
    trustProxy: trustProxy(cfg['trust-proxy']),
  });
  try {
    if (app) await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await core.stop();
    throw new UsageError(`cannot listen on ${cfg.host}:${cfg.port}: ${(err as Error).message}`);
  }
  let kanto: KantoDevice | undefined;
  try {
    kanto = startKanto(core, cfg, log);
  } catch (err) {
    await app?.close();
    await core.stop();
    throw new UsageError(`cannot start the MQTT adapter: ${explainStartupError(err, cfg)}`);
  }
  const address = app?.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  const where = app ? `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}` : 'no HTTP (role worker)';
  log(`coffer serving ${where}; data ${cfg['data-dir']}; catalog ${core.catalog.describe}; role ${cfg.role}`);
  log(recoveryHint(cfg['data-dir']));
  process.stdout.write(`coffer listening on ${where}\n`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log('shutting down: finishing requests, interrupting running jobs');
  await kanto?.stop();
  await app?.close();
  await core.stop();
  return EXIT.ok;
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
function startKanto(core: Core, cfg: ServeConfig, log: (msg: string, err?: unknown) => void): KantoDevice | undefined {
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
  }, log);
}
