/**
 * `coffer serve` settings from three places: flags win over `COFFER_*` variables (the flag's name
 * in upper snake case: `--data-dir` ↔ COFFER_DATA_DIR), which win over the config file (`--config`,
 * JSON, keys as the flags' names in kebab, snake or camel case), which wins over the defaults. Each
 * setting remembers where its value came from, so that an error can send the operator there.
 *
 * No setting's variable is one the repository commands read (COFFER_REPOSITORY, COFFER_PASSWORD,
 * COFFER_PASSWORD_FILE: see context.ts): a shell set up for `coffer backup` must not move the
 * server's default repository. So the server's is `--default-repository` ↔
 * COFFER_DEFAULT_REPOSITORY, and every variable stays its flag's name (one rule, no exceptions).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './exit-codes.js';
import { parseGoDuration } from '../mqtt/index.js';
import { type Kind, LOCATION_SETTINGS, RENAMED_SETTINGS, SERVE_SETTINGS, type SettingName, envName } from './serve-settings.js';

export { LOCATION_SETTINGS, RENAMED_SETTINGS, SERVE_SETTINGS, type SettingName, envName };

/** The words of `--log-level` (pino's levels) and `--log-format`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

type ValueOf<K extends SettingName> = (typeof SERVE_SETTINGS)[K]['kind'] extends 'int' ? number : (typeof SERVE_SETTINGS)[K]['kind'] extends 'bool' ? boolean : string;
export type ServeConfig = { [K in SettingName]: (typeof SERVE_SETTINGS)[K]['def'] extends undefined ? ValueOf<K> | undefined : ValueOf<K> } & {
  adminPassword: string | undefined;
  adminApiKey: string | undefined;
  /** Where each setting's value came from: `--data-dir`, `COFFER_DATA_DIR`, `config file F key data_dir` or `default`. */
  sources: Record<SettingName, string>;
  /** What the operator should know about the settings given (an old name, a variable that is not the server's). */
  warnings: string[];
};

/** Variables of the repository commands that a server operator may have meant for the server. */
const CLI_VARIABLES: Readonly<Record<string, SettingName>> = { COFFER_REPOSITORY: 'default-repository' };

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

/** A config file's settings by flag name, each with the key as the file spells it. */
function readConfigFile(file: string, warnings: string[]): Map<SettingName, { value: unknown; key: string }> {
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
  const out = new Map<SettingName, { value: unknown; key: string }>();
  for (const [k, v] of Object.entries(parsed)) {
    let flag = k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');
    const renamed = RENAMED_SETTINGS[flag];
    if (renamed) {
      warnings.push(`config file ${file}: key ${k} is deprecated; call it ${renamed}`);
      flag = renamed;
    }
    if (!(flag in SERVE_SETTINGS)) throw new UsageError(`config file ${file}: unknown setting ${k}`);
    out.set(flag as SettingName, { value: v, key: k });
  }
  return out;
}

/** A setting's flag value, also under its old name (with a warning); the current name wins. */
function flagValue(flags: Record<string, unknown>, name: SettingName, warnings: string[]): { value: unknown; flag: string } | undefined {
  if (flags[camel(name)] !== undefined) return { value: flags[camel(name)], flag: `--${name}` };
  for (const [old, current] of Object.entries(RENAMED_SETTINGS)) {
    if (current !== name || flags[camel(old)] === undefined) continue;
    warnings.push(`--${old} is deprecated; use --${name}`);
    return { value: flags[camel(old)], flag: `--${old}` };
  }
  return undefined;
}

/** Resolves every setting; `flags` holds only what was given on the command line (commander's camelCase keys). */
export function resolveServeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const warnings: string[] = [];
  const configFile = (flags['config'] as string | undefined) ?? env['COFFER_CONFIG'];
  const file = configFile ? readConfigFile(configFile, warnings) : new Map<SettingName, { value: unknown; key: string }>();
  const out: Record<string, unknown> = {};
  const sources = {} as Record<SettingName, string>;
  for (const [name, s] of Object.entries(SERVE_SETTINGS) as [SettingName, { kind: Kind; def: unknown }][]) {
    const flag = flagValue(flags, name, warnings);
    const fromEnv = env[envName(name)];
    const fromFile = file.get(name);
    let v: unknown = s.def;
    let source = 'default';
    if (fromFile) [v, source] = [convert(name, s.kind, fromFile.value, `config file ${configFile}`), `config file ${configFile} key ${fromFile.key}`];
    if (fromEnv !== undefined && fromEnv !== '') [v, source] = [convert(name, s.kind, fromEnv, envName(name)), envName(name)];
    if (flag !== undefined) [v, source] = [convert(name, s.kind, flag.value, flag.flag), flag.flag];
    out[name] = v;
    sources[name] = source;
  }
  for (const [variable, name] of Object.entries(CLI_VARIABLES)) {
    if (env[variable] && sources[name] === 'default') {
      warnings.push(`${variable} is the repository of the coffer repository commands and the server ignores it; the server's default repository is --${name} or ${envName(name)}`);
    }
  }
  const from = (name: SettingName) => ` ${sourceNote({ sources }, name)}`;
  if (!['all', 'api', 'worker'].includes(out['role'] as string)) throw new UsageError(`role must be all, api or worker, got ${String(out['role'])}${from('role')}`);
  if ((out['port'] as number) > 65535) throw new UsageError(`port must be at most 65535${from('port')}`);
  if ((out['tls-cert'] === undefined) !== (out['tls-key'] === undefined)) {
    throw new UsageError(out['tls-cert'] === undefined ? `--tls-key needs --tls-cert (the certificate for that key)${from('tls-key')}` : `--tls-cert needs --tls-key (the certificate's private key)${from('tls-cert')}`);
  }
  if (!(LOG_LEVELS as readonly string[]).includes(out['log-level'] as string)) throw new UsageError(`log-level must be one of ${LOG_LEVELS.join(', ')}, got ${String(out['log-level'])}${from('log-level')}`);
  if (out['log-format'] !== undefined && !(LOG_FORMATS as readonly string[]).includes(out['log-format'] as string)) throw new UsageError(`log-format must be json or pretty, got ${String(out['log-format'])}${from('log-format')}`);
  if (!['strict', 'scoped', 'lax'].includes(out['kanto-mode'] as string)) throw new UsageError(`kanto-mode must be strict, scoped or lax, got ${String(out['kanto-mode'])}${from('kanto-mode')}`);
  if (out['mqtt-url'] !== undefined && out['kanto-dir'] === undefined && out['kanto-mode'] !== 'lax') throw new UsageError(`--kanto-dir is required with --mqtt-url${from('mqtt-url')} unless --kanto-mode is lax`);
  try {
    if (!(parseGoDuration(out['kanto-period'] as string) > 0)) throw new Error('it must be longer than 0');
  } catch (err) {
    throw new UsageError(`kanto-period: ${(err as Error).message}${from('kanto-period')}`);
  }
  out['data-dir'] = path.resolve(out['data-dir'] as string);
  return {
    ...(out as Omit<ServeConfig, 'adminPassword' | 'adminApiKey' | 'sources' | 'warnings'>),
    adminPassword: env['COFFER_ADMIN_PASSWORD'] || undefined, adminApiKey: env['COFFER_ADMIN_API_KEY'] || undefined, sources, warnings,
  } as ServeConfig;
}

/** Where the Core finds its data; what is not given is left to the Core's defaults (`<data-dir>/coffer.db`, `<data-dir>/secret.key`, `<data-dir>/repo`). */
export function coreLocations(cfg: ServeConfig): { dataDir: string; catalog?: string; secretFile?: string; defaultRepository?: string } {
  return {
    dataDir: cfg['data-dir'],
    ...(cfg.catalog ? { catalog: cfg.catalog } : {}),
    ...(cfg['secret-file'] ? { secretFile: cfg['secret-file'] } : {}),
    ...(cfg['default-repository'] ? { defaultRepository: cfg['default-repository'] } : {}),
  };
}

/** The settings that name a file or directory, as an operator calls them. */
const PATH_SETTINGS: Partial<Record<SettingName, string>> = {
  'data-dir': 'data directory', catalog: 'catalog', 'secret-file': 'secret file', 'default-repository': 'default repository',
  'kanto-dir': 'Kanto directory', 'kanto-storage': 'Kanto storage directory', 'mqtt-ca': 'MQTT CA file', 'mqtt-cert': 'MQTT client certificate', 'mqtt-key': 'MQTT client key',
};

/** What an operating-system error code means, in words. */
const ERRNO_WORDS: Record<string, string> = {
  EACCES: 'permission denied', EPERM: 'operation not permitted', ENOENT: 'no such file or directory', ENOTDIR: 'not a directory',
  EEXIST: 'exists and is not a directory', EISDIR: 'is a directory', EROFS: 'read-only file system', ENOSPC: 'no space left on device',
  ELOOP: 'too many symbolic links',
};

/** The local path a setting names, if it names one (not a PostgreSQL URL, an S3 or Azure location). */
function localPathOf(cfg: ServeConfig, name: SettingName): string | undefined {
  const v = cfg[name];
  if (typeof v !== 'string' || v === '') return undefined;
  const local = name === 'catalog' ? (v.startsWith('sqlite:') ? v.slice('sqlite:'.length) : /^postgres(ql)?:\/\//.test(v) ? undefined : v)
    : name === 'default-repository' ? (v.startsWith('local:') ? v.slice('local:'.length) : /^[a-z][a-z0-9]+:/i.test(v) ? undefined : v)
      : v;
  return local === undefined || local === ':memory:' ? undefined : path.resolve(local);
}

/** Where a setting came from, for a message: `(from --data-dir)`, `(from COFFER_DATA_DIR)`, `(the default)`. */
export function sourceNote(cfg: Pick<ServeConfig, 'sources'>, name: SettingName): string {
  const source = cfg.sources[name];
  return source === 'default' ? '(the default)' : `(from ${source})`;
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

/**
 * A start-up error that names the setting its path came from, so that the operator knows what to
 * change: `data directory /x (from COFFER_DATA_DIR): permission denied`. The setting is the one
 * whose path is the failing path, holds it or lies under it (the longest such); for an error
 * without a path, the one whose path the message quotes. Other errors keep their message.
 */
export function explainStartupError(err: unknown, cfg: ServeConfig): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e instanceof Error ? e.message : String(err);
  const failing = typeof e?.path === 'string' ? path.resolve(e.path) : undefined;
  let best: { name: SettingName; at: string } | undefined;
  for (const name of Object.keys(PATH_SETTINGS) as SettingName[]) {
    const at = localPathOf(cfg, name);
    if (at === undefined) continue;
    const hit = failing !== undefined ? inside(failing, at) || inside(at, failing) : message.includes(at);
    if (hit && (best === undefined || at.length > best.at.length)) best = { name, at };
  }
  if (best === undefined) return message;
  const what = `${PATH_SETTINGS[best.name]!} ${String(cfg[best.name])} ${sourceNote(cfg, best.name)}`;
  const why = failing !== undefined && e?.code !== undefined && ERRNO_WORDS[e.code] !== undefined ? ERRNO_WORDS[e.code]! : message;
  return failing !== undefined && failing !== best.at && why !== message ? `${what}: ${failing}: ${why}` : `${what}: ${why}`;
}
