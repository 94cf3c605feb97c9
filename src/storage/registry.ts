/**
 * Maps a repository location, spelled as restic spells it, to a backend. A new provider adds one
 * entry here and its own module; nothing else learns its name.
 */
import * as path from 'node:path';
import { AzureBackend } from './azure.js';
import type { Backend } from './backend.js';
import { LocalBackend } from './local.js';
import { MemoryBackend } from './memory.js';
import type { BackendOptions } from './options.js';
import { LazyBackend } from './lazy.js';
import { s3Settings } from './s3-settings.js';

export interface Location {
  readonly scheme: string;
  /** The rest of the location after `scheme:`. */
  readonly rest: string;
}

interface Factory {
  /**
   * `options` are the repository's own (restic's `-o key=value`, credentials among them); `env` is where a
   * provider falls back to the variables restic reads (AWS_ACCESS_KEY_ID, AZURE_ACCOUNT_NAME, …).
   */
  open(loc: Location, options: BackendOptions, env: NodeJS.ProcessEnv): Backend;
}

const FACTORIES: Record<string, Factory> = {
  local: { open: (loc) => new LocalBackend(loc.rest) },
  memory: { open: () => new MemoryBackend() },
  s3: {
    open: (loc, options, env) => {
      const settings = s3Settings(loc.rest, options, env);
      return new LazyBackend(settings.where.display, { connections: settings.connections, remote: true }, async () => new (await import('./s3.js')).S3Backend(settings));
    },
  },
  azure: { open: (loc, options, env) => AzureBackend.open(loc.rest, options, env) },
};

export function parseLocation(location: string): Location {
  const m = /^([a-z0-9]+):(.*)$/.exec(location);
  // A bare path (or a Windows-style drive letter) is a local repository, as in restic.
  if (!m || m[1]!.length === 1 || !(m[1]! in FACTORIES)) return { scheme: 'local', rest: path.resolve(location) };
  return { scheme: m[1]!, rest: m[2]! };
}

export function openBackend(location: string, options: BackendOptions = {}, env: NodeJS.ProcessEnv = process.env): Backend {
  const loc = parseLocation(location);
  const factory = FACTORIES[loc.scheme];
  if (!factory) throw new Error(`unknown repository scheme ${loc.scheme}`);
  return factory.open(loc, options, env);
}
