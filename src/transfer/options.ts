/**
 * Reading Kanto's transfer options (research/KANTO.md 2.2, 2.4): which provider a request selects
 * and that provider's settings, each checked once here so that a wrong request is refused with
 * Kanto's own message before anything moves. Option keys are matched exactly, as Kanto does.
 */
import { TransferOptionsError } from './errors.js';

/** Kanto's option keys as received, e.g. 'storage.provider', 'aws.region', 'https.header.Authorization'. */
export type TransferOptions = Readonly<Record<string, string>>;

export interface TransferControl {
  signal?: AbortSignal;
  /** Called as bytes move; `bytesTotal` is 0 when the size is not known (a download without Content-Length). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /**
   * The object key (aws) or blob name (azure) to use when the options name none: on upload instead
   * of the file's base name, on download the only way to name the object besides the options (the
   * seed's restore example carries none, so the caller supplies the key it uploaded under).
   */
  objectName?: string;
  /**
   * Extra trusted CA certificates (PEM) for HTTPS, from the server's own configuration (Kanto's
   * `serverCert`); added to the system's roots, as is the request's `https.ca`.
   */
  ca?: string;
  /**
   * Let HTTP(S) transfers reach loopback, link-local and private addresses. Off by default: URLs
   * come from the network, and such addresses are this host's and its network's internal services.
   */
  allowPrivateAddresses?: boolean;
  /** Largest download accepted, in bytes; a longer body is cut off and its file removed. */
  maxBytes?: number;
}

export type UploadProviderName = 'aws' | 'azure' | 'generic';
export type DownloadSourceName = 'aws' | 'azure' | 'https';

export interface AwsSettings {
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly bucket: string;
  /** `aws.object.key`, when given. */
  readonly objectKey?: string;
  /** Coffer's `aws.endpoint`: an S3-compatible server instead of AWS. */
  readonly endpoint?: string;
}

export interface AzureSettings {
  /** Ends with `/`. */
  readonly endpoint: string;
  readonly container: string;
  /** Without a leading `?`. */
  readonly sas: string;
  /** `azure.blob.name`, when given. */
  readonly blobName?: string;
}

export interface HttpSettings {
  readonly url: URL;
  readonly method: 'PUT' | 'POST' | 'GET';
  /** Every `https.header.<Name>`, names as given. */
  readonly headers: Readonly<Record<string, string>>;
  /** `https.ca`: PEM text of extra trusted CA certificates. */
  readonly ca?: string;
}

const PROVIDER = 'storage.provider';
const HTTPS_URL = 'https.url';
const HEADER_PREFIX = 'https.header.';

/** A value that is absent or only blanks counts as missing, as Kanto's `== ""` checks do for empty ones. */
function given(o: TransferOptions, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function required(o: TransferOptions, key: string): string {
  const v = given(o, key);
  if (v === undefined) throw new TransferOptionsError(`required parameter '${key}' missing or empty`);
  return v;
}

/** `storage.provider` lower-cased, or undefined when absent. */
function providerOption(o: TransferOptions): string | undefined {
  const v = given(o, PROVIDER);
  if (v === undefined) return undefined;
  const p = v.trim().toLowerCase();
  if (p !== 'aws' && p !== 'azure' && p !== 'generic') throw new TransferOptionsError(`unknown storage provider '${v}'`);
  return p;
}

export function uploadProvider(o: TransferOptions): UploadProviderName | null {
  const p = providerOption(o);
  if (p === undefined && given(o, HTTPS_URL) === undefined) return null;
  if (p === 'aws') awsSettings(o);
  else if (p === 'azure') azureSettings(o);
  else {
    httpSettings(o, 'upload');
    return 'generic';
  }
  return p as UploadProviderName;
}

/**
 * Kanto restores from `https.url` only and ignores `storage.provider` (KANTO.md 2.2), so a URL,
 * when present, wins; without one, `storage.provider` aws or azure names the object directly.
 */
export function downloadSource(o: TransferOptions): DownloadSourceName | null {
  const p = providerOption(o);
  if (given(o, HTTPS_URL) !== undefined) {
    httpSettings(o, 'download');
    return 'https';
  }
  if (p === 'aws') {
    awsSettings(o);
    return 'aws';
  }
  if (p === 'azure') {
    azureSettings(o);
    return 'azure';
  }
  if (p === 'generic') throw new TransferOptionsError('Download URL not specified!');
  return null;
}

export function awsSettings(o: TransferOptions): AwsSettings {
  const s: AwsSettings = {
    region: required(o, 'aws.region'),
    accessKeyId: required(o, 'aws.access.key.id'),
    secretAccessKey: required(o, 'aws.secret.access.key'),
    bucket: required(o, 'aws.s3.bucket'),
  };
  const endpoint = given(o, 'aws.endpoint');
  if (endpoint !== undefined) checkHttpUrl(endpoint, 'aws.endpoint');
  return {
    ...s,
    ...optional('sessionToken', given(o, 'aws.session.token')),
    ...optional('objectKey', given(o, 'aws.object.key')),
    ...optional('endpoint', endpoint),
  };
}

export function azureSettings(o: TransferOptions): AzureSettings {
  const endpoint = required(o, 'azure.storage.endpoint');
  const sas = required(o, 'azure.shared.access.signature');
  const container = required(o, 'azure.blob.container');
  checkHttpUrl(endpoint, 'azure.storage.endpoint');
  return {
    endpoint: endpoint.endsWith('/') ? endpoint : `${endpoint}/`,
    container,
    sas: sas.startsWith('?') ? sas.slice(1) : sas,
    ...optional('blobName', given(o, 'azure.blob.name')),
  };
}

export function httpSettings(o: TransferOptions, direction: 'upload' | 'download'): HttpSettings {
  const raw = given(o, HTTPS_URL);
  if (raw === undefined) throw new TransferOptionsError(direction === 'upload' ? 'upload URL not specified' : 'Download URL not specified!');
  const url = checkHttpUrl(raw, HTTPS_URL);
  let method: HttpSettings['method'] = 'GET';
  if (direction === 'upload') {
    const m = (given(o, 'https.method') ?? 'PUT').trim();
    if (m.toUpperCase() !== 'PUT' && m.toUpperCase() !== 'POST') throw new TransferOptionsError(`unsupported HTTP method: ${m}`);
    method = m.toUpperCase() as 'PUT' | 'POST';
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(o)) {
    if (!key.startsWith(HEADER_PREFIX)) continue;
    const name = key.slice(HEADER_PREFIX.length);
    // Node refuses such names and values when sending; refusing here makes it the request's fault.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TransferOptionsError(`invalid HTTP header name in '${key}'`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw new TransferOptionsError(`invalid value for '${key}'`);
    headers[name] = value;
  }
  return { url, method, headers, ...optional('ca', given(o, 'https.ca')) };
}

function checkHttpUrl(raw: string, key: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new TransferOptionsError(`invalid URL in '${key}'`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TransferOptionsError(`unsupported URL scheme '${url.protocol}' in '${key}': http or https only`);
  return url;
}

/** `{ [key]: value }` when the value is there, `{}` otherwise (exactOptionalPropertyTypes-friendly). */
function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: string });
}

/** A URL for messages and results: no user info, no query (pre-signed URLs and SAS carry secrets there). */
export function displayUrl(url: URL | string): string {
  const u = new URL(url.toString());
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString();
}
