/**
 * `coffer serve` settings from three places: flags win over `COFFER_*` variables (the flag's name
 * in upper snake case: `--data-dir` ↔ COFFER_DATA_DIR), which win over the config file (`--config`,
 * JSON, keys as the flags' names in kebab or camel case), which wins over the defaults.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './exit-codes.js';
import { parseGoDuration } from '../mqtt/index.js';
import { type Kind, LOCATION_SETTINGS, SERVE_SETTINGS, type SettingName, envName } from './serve-settings.js';

export { LOCATION_SETTINGS, SERVE_SETTINGS, type SettingName, envName };

/** The words of `--log-level` (pino's levels) and `--log-format`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

type ValueOf<K extends SettingName> = (typeof SERVE_SETTINGS)[K]['kind'] extends 'int' ? number : (typeof SERVE_SETTINGS)[K]['kind'] extends 'bool' ? boolean : string;
export type ServeConfig = { [K in SettingName]: (typeof SERVE_SETTINGS)[K]['def'] extends undefined ? ValueOf<K> | undefined : ValueOf<K> } & {
  adminPassword: string | undefined;
  adminApiKey: string | undefined;
};

function camel(flag: string): string {
  return flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

function convert(name: string, kind: Kind, raw: unknown, from: string): string | number | boolean {
  if (kind === 'int') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${from}: ${name} must be a whole number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
    if (typeof raw === 'string' && /^(0|false|no|off|)$/i.test(raw)) return false;
    throw new UsageError(`${from}: ${name} must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new UsageError(`${from}: ${name} must be a string`);
  return String(raw);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`config file ${file} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  const known = new Set(Object.keys(SERVE_SETTINGS));
  for (const [k, v] of Object.entries(parsed)) {
    const flag = k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!known.has(flag)) throw new UsageError(`config file ${file}: unknown setting ${k}`);
    out[flag] = v;
  }
  return out;
}

/** Resolves every setting; `flags` holds only what was given on the command line (commander's camelCase keys). */
export function resolveServeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const configFile = (flags['config'] as string | undefined) ?? env['COFFER_CONFIG'];
  const file = configFile ? readConfigFile(configFile) : {};
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SERVE_SETTINGS) as [SettingName, { kind: Kind; def: unknown }][]) {
    const flag = flags[camel(name)];
    const fromEnv = env[envName(name)];
    let v: unknown = s.def;
    if (name in file) v = convert(name, s.kind, file[name], `config file ${configFile}`);
    if (fromEnv !== undefined && fromEnv !== '') v = convert(name, s.kind, fromEnv, envName(name));
    if (flag !== undefined) v = convert(name, s.kind, flag, `--${name}`);
    out[name] = v;
  }
  if (!['all', 'api', 'worker'].includes(out['role'] as string)) throw new UsageError(`role must be all, api or worker, got ${String(out['role'])}`);
  if ((out['port'] as number) > 65535) throw new UsageError('port must be at most 65535');
  if ((out['tls-cert'] === undefined) !== (out['tls-key'] === undefined)) {
    throw new UsageError(out['tls-cert'] === undefined ? '--tls-key needs --tls-cert (the certificate for that key)' : '--tls-cert needs --tls-key (the certificate\'s private key)');
  }
  if (!(LOG_LEVELS as readonly string[]).includes(out['log-level'] as string)) throw new UsageError(`log-level must be one of ${LOG_LEVELS.join(', ')}, got ${String(out['log-level'])}`);
  if (out['log-format'] !== undefined && !(LOG_FORMATS as readonly string[]).includes(out['log-format'] as string)) throw new UsageError(`log-format must be json or pretty, got ${String(out['log-format'])}`);
  if (!['strict', 'scoped', 'lax'].includes(out['kanto-mode'] as string)) throw new UsageError(`kanto-mode must be strict, scoped or lax, got ${String(out['kanto-mode'])}`);
  if (out['mqtt-url'] !== undefined && out['kanto-dir'] === undefined && out['kanto-mode'] !== 'lax') throw new UsageError('--kanto-dir is required with --mqtt-url unless --kanto-mode is lax');
  try {
    if (!(parseGoDuration(out['kanto-period'] as string) > 0)) throw new Error('it must be longer than 0');
  } catch (err) {
    throw new UsageError(`kanto-period: ${(err as Error).message}`);
  }
  out['data-dir'] = path.resolve(out['data-dir'] as string);
  return { ...(out as Omit<ServeConfig, 'adminPassword' | 'adminApiKey'>), adminPassword: env['COFFER_ADMIN_PASSWORD'] || undefined, adminApiKey: env['COFFER_ADMIN_API_KEY'] || undefined } as ServeConfig;
}

/** Where the Core finds its data; what is not given is left to the Core's defaults (`<data-dir>/coffer.db`, `<data-dir>/secret.key`, `<data-dir>/repo`). */
export function coreLocations(cfg: ServeConfig): { dataDir: string; catalog?: string; secretFile?: string; defaultRepository?: string } {
  return {
    dataDir: cfg['data-dir'],
    ...(cfg.catalog ? { catalog: cfg.catalog } : {}),
    ...(cfg['secret-file'] ? { secretFile: cfg['secret-file'] } : {}),
    ...(cfg.repository ? { defaultRepository: cfg.repository } : {}),
  };
}
