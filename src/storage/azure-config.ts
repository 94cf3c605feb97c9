/**
 * What an `azure:` repository location and its options mean: restic's spelling of the location
 * (internal/backend/azure/config.go, ParseConfig) and restic's option and environment names, plus
 * Coffer's `azure.endpoint` for endpoints restic cannot address (Azurite, private endpoints).
 */
import * as path from 'node:path';
import { type BackendOptions, optionOrEnv } from './options.js';

export interface AzureLocation {
  readonly container: string;
  /** Blob name prefix without leading or trailing `/`; '' for the container's root. */
  readonly prefix: string;
}

export type AzureAuth =
  | { readonly kind: 'shared-key'; readonly accountName: string; readonly accountKey: string }
  | { readonly kind: 'sas'; readonly sas: string };

export interface AzureConfig extends AzureLocation {
  /** The account's blob service URL without a trailing `/`, e.g. `https://acct.blob.core.windows.net`. */
  readonly accountUrl: string;
  readonly auth: AzureAuth;
  readonly connections: number;
}

export interface AzureRetrySettings {
  /** Tries per request, the first included. */
  readonly maxTries: number;
  /** Base of the exponential backoff. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** How long one try may wait for the response headers (a large block upload included). */
  readonly tryTimeoutMs: number;
}

/** How hard requests are retried (see azure-client.ts). About half a minute of backoff in all before a request is given up: long enough for a throttling burst. */
export const DEFAULT_RETRY: AzureRetrySettings = { maxTries: 7, retryDelayMs: 500, maxRetryDelayMs: 10_000, tryTimeoutMs: 5 * 60_000 };

export const DEFAULT_ENDPOINT_SUFFIX = 'core.windows.net';
export const DEFAULT_CONNECTIONS = 5;

/** Azure's rule for container names (3–63 of a-z, 0-9 and single inner hyphens). */
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/**
 * Parses the part after `azure:`: `container:/path/to/repo`. As restic does, the path is cleaned
 * (`path.Clean`) and its leading `/` dropped, so `c:/`, `c:` and `c:/a/../` all mean the root.
 */
export function parseAzureLocation(rest: string): AzureLocation {
  const colon = rest.indexOf(':');
  if (colon < 0) throw new Error(`azure location "azure:${rest}" is not azure:container-name:/path (the ":" after the container is missing)`);
  const container = rest.slice(0, colon);
  if (!CONTAINER_NAME.test(container)) {
    throw new Error(`azure container name "${container}" is invalid: 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit`);
  }
  return { container, prefix: cleanPrefix(rest.slice(colon + 1)) };
}

/** Go's `strings.TrimPrefix(path.Clean(p), "/")`, with Clean's "." for an empty path meaning no prefix. */
function cleanPrefix(p: string): string {
  let clean = path.posix.normalize(p === '' ? '.' : p);
  if (clean.length > 1 && clean.endsWith('/')) clean = clean.slice(0, -1);
  if (clean.startsWith('/')) clean = clean.slice(1);
  if (clean === '.') return '';
  if (clean === '..' || clean.startsWith('../')) throw new Error(`azure repository path "${p}" leaves the container`);
  return clean;
}

/** The location as shown to people: restic's spelling, never a credential. */
export function formatAzureLocation(loc: AzureLocation): string {
  return `azure:${loc.container}:/${loc.prefix}`;
}

/**
 * Reads the options a repository carries (restic's `-o azure.*`) with restic's environment
 * variables as fallback. Credentials are checked for presence here so that a missing one is a clear
 * error before any request is sent.
 */
export function resolveAzureConfig(rest: string, options: BackendOptions, env: NodeJS.ProcessEnv): AzureConfig {
  const loc = parseAzureLocation(rest);
  const accountName = optionOrEnv(options, ['azure.account-name'], env, ['AZURE_ACCOUNT_NAME']);
  const accountKey = optionOrEnv(options, ['azure.account-key'], env, ['AZURE_ACCOUNT_KEY']);
  const sas = optionOrEnv(options, ['azure.account-sas'], env, ['AZURE_ACCOUNT_SAS']);
  const suffix = optionOrEnv(options, ['azure.endpoint-suffix'], env, ['AZURE_ENDPOINT_SUFFIX']) ?? DEFAULT_ENDPOINT_SUFFIX;
  const endpoint = optionOrEnv(options, ['azure.endpoint'], env, ['COFFER_AZURE_ENDPOINT']);

  let auth: AzureAuth;
  if (accountKey !== undefined) {
    if (accountName === undefined) throw new Error('azure: an account key is set but no account name (-o azure.account-name=... or AZURE_ACCOUNT_NAME)');
    auth = { kind: 'shared-key', accountName, accountKey };
  } else if (sas !== undefined) {
    // restic accepts the token with or without its leading "?".
    auth = { kind: 'sas', sas: sas.startsWith('?') ? sas.slice(1) : sas };
  } else {
    throw new Error('azure: no credentials: set an account key (-o azure.account-key=... or AZURE_ACCOUNT_KEY) or a SAS token (-o azure.account-sas=... or AZURE_ACCOUNT_SAS)');
  }

  let accountUrl: string;
  if (endpoint !== undefined) {
    accountUrl = parseEndpoint(endpoint);
  } else {
    if (accountName === undefined) throw new Error('azure: no account name (-o azure.account-name=... or AZURE_ACCOUNT_NAME) and no endpoint (-o azure.endpoint=... or COFFER_AZURE_ENDPOINT)');
    accountUrl = `https://${accountName}.blob.${suffix}`;
  }

  return { ...loc, accountUrl, auth, connections: parseConnections(options['azure.connections']) };
}

function parseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`azure.endpoint "${text}" is not a URL (expected e.g. http://127.0.0.1:10000/devstoreaccount1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`azure.endpoint "${text}" must be http or https`);
  // A SAS belongs in azure.account-sas, where it is treated as a secret; one in the URL would be shown.
  if (url.search !== '' || url.username !== '' || url.password !== '') throw new Error('azure.endpoint must be a plain URL without query or credentials (put a SAS token in azure.account-sas)');
  return url.toString().replace(/\/+$/, '');
}

function parseConnections(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_CONNECTIONS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 128) throw new Error(`azure.connections "${text}" is not a whole number from 1 to 128`);
  return n;
}
