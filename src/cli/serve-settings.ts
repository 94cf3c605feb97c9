/**
 * The settings of `coffer serve` and where each is read from (flag, `COFFER_*` variable). Kept apart
 * from their resolution (`serve-config.ts`) so that declaring the flags, which every run of the
 * command line does, loads nothing of the server.
 */
export type Kind = 'string' | 'int' | 'bool';

/** Every setting of `serve`: its flag name, what it holds, its default and its help. */
export const SERVE_SETTINGS = {
  'data-dir': { kind: 'string', def: './coffer-data', help: 'data directory (catalog, secret, default repository)' },
  host: { kind: 'string', def: '127.0.0.1', help: 'address to listen on' },
  port: { kind: 'int', def: 8080, help: 'port to listen on' },
  catalog: { kind: 'string', def: undefined, help: 'catalog: sqlite:PATH (default <data-dir>/coffer.db) or postgres://…' },
  'secret-file': { kind: 'string', def: undefined, help: 'server secret (default <data-dir>/secret.key); share it between processes of one catalog' },
  'default-repository': { kind: 'string', def: undefined, help: 'location of the default repository, used when the catalog is first made (default <data-dir>/repo)' },
  role: { kind: 'string', def: 'all', help: 'all | api (HTTP only) | worker (jobs and schedules only)' },
  jobs: { kind: 'int', def: 2, help: 'jobs this process runs at once' },
  'engine-workers': { kind: 'int', def: undefined, help: 'worker threads per backup or restore (default: one per core)' },
  'max-backups-per-instance': { kind: 'int', def: 0, help: 'backups an instance may hold (0: no limit)' },
  'max-backups-per-account': { kind: 'int', def: 25, help: 'backups one user may have created (0: no limit); admins are not limited unless --quota-includes-admins' },
  'quota-includes-admins': { kind: 'bool', def: false, help: 'apply --max-backups-per-account to admins too' },
  model: { kind: 'string', def: 'coffer', help: 'device model reported with backups' },
  serial: { kind: 'string', def: '', help: 'device serial number reported with backups' },
  'log-level': { kind: 'string', def: 'info', help: 'trace | debug | info | warn | error | fatal | silent (see docs/logging.md)' },
  'log-format': { kind: 'string', def: undefined, help: 'json (one JSON object a line) | pretty (readable lines); default pretty when stdout is a terminal, else json' },
  'body-limit': { kind: 'int', def: 1024 * 1024, help: 'largest JSON request body in bytes' },
  'max-upload-bytes': { kind: 'int', def: 64 * 1024 ** 3, help: 'largest backup file an upload may send, in bytes (streamed to disk under <data-dir>/uploads)' },
  'tls-cert': { kind: 'string', def: undefined, help: 'PEM file of the HTTPS certificate (with its chain); with --tls-key, Coffer serves HTTPS and re-reads both files on SIGHUP' },
  'tls-key': { kind: 'string', def: undefined, help: 'PEM file of the HTTPS certificate\'s private key' },
  'trust-proxy': { kind: 'string', def: undefined, help: 'behind a reverse proxy: take the client address, host and scheme from its X-Forwarded-* headers; true (any proxy) or the proxies\' addresses (comma-separated IPs or CIDRs). Off by default: a client could forge them' },
  'transfer-idle-timeout': { kind: 'int', def: 60, help: 'seconds an upload body may stop arriving, or a download stop being read, before the connection is closed (0: never); a stalled download holds a repository lock' },
  'max-unpacked-bytes': { kind: 'int', def: undefined, help: 'largest total one uploaded backup file may unpack to, in bytes (default 20 × max-upload-bytes); the disk must also hold it' },
  'max-concurrent-uploads': { kind: 'int', def: 4, help: 'uploads this process takes at once (more are answered 503)' },
  'validate-responses': { kind: 'bool', def: false, help: 'check every response against its schema (for development and tests)' },
  'mqtt-url': { kind: 'string', def: undefined, help: 'MQTT broker for the Eclipse Kanto File Backup device (mqtt://host:1883, mqtts://…); off without it' },
  'mqtt-username': { kind: 'string', def: undefined, help: 'MQTT user name' },
  'mqtt-password': { kind: 'string', def: undefined, help: 'MQTT password (prefer the variable to the flag)' },
  'mqtt-ca': { kind: 'string', def: undefined, help: 'PEM file of the CA that signed the broker certificate' },
  'mqtt-cert': { kind: 'string', def: undefined, help: 'PEM file of a client certificate for the broker' },
  'mqtt-key': { kind: 'string', def: undefined, help: 'PEM file of the client certificate key' },
  'mqtt-insecure': { kind: 'bool', def: false, help: 'accept a broker certificate that does not verify' },
  'kanto-thing-id': { kind: 'string', def: undefined, help: 'Ditto thing id namespace:name (default: learned from edge/thing/response)' },
  'kanto-feature-id': { kind: 'string', def: 'BackupAndRestore', help: 'Ditto feature id of the File Backup device' },
  'kanto-dir': { kind: 'string', def: undefined, help: 'directory backed up and restored by default (Kanto dir); required unless --kanto-mode lax' },
  'kanto-mode': { kind: 'string', def: 'strict', help: 'which backup.dir a command may name: strict (only --kanto-dir) | scoped (it and below) | lax (any)' },
  'kanto-storage': { kind: 'string', def: undefined, help: 'staging directory for backup ZIPs and downloads (default <data-dir>/kanto)' },
  'kanto-keep-uploaded': { kind: 'bool', def: false, help: 'keep a backup ZIP after its upload succeeded' },
  'kanto-allow-private-urls': { kind: 'bool', def: false, help: 'let Kanto transfers (https.url) reach loopback, link-local and private addresses (off: any broker client could reach internal services)' },
  'kanto-max-download-bytes': { kind: 'int', def: undefined, help: 'largest download a Kanto restore accepts, in bytes (default: --max-upload-bytes)' },
  'kanto-period': { kind: 'string', def: '10h', help: 'time between the periodic backups that the Kanto activate command switches on (Go duration: 10h, 1h30m, 2s)' },
} as const satisfies Record<string, { kind: Kind; def: string | number | boolean | undefined; help: string }>;

export type SettingName = keyof typeof SERVE_SETTINGS;

export function envName(flag: string): string {
  return `COFFER_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** The settings that say where a server's data is: `serve` and the `admin` commands take them alike. */
export const LOCATION_SETTINGS = ['data-dir', 'catalog', 'secret-file'] as const satisfies readonly SettingName[];

/** Old names still taken, with a warning, as flags and config-file keys (old → current). */
export const RENAMED_SETTINGS: Readonly<Record<string, SettingName>> = { repository: 'default-repository' };
