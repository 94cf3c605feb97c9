/** What the operation handlers share with the device that runs them. */
import type { Actor, Core } from '../core/index.js';
import type { MqttSettings } from './connection.js';
import type { KantoMode } from './directory-mode.js';
import type { DittoEnvelope } from './envelope.js';
import type { StatusTracker } from './feature.js';

export interface KantoSettings {
  mqtt: MqttSettings;
  /** `namespace:name`; when absent it is learned from `edge/thing/response`. */
  thingId?: string | undefined;
  featureId: string;
  /** The configured directory (Kanto's `dir`). */
  dir?: string | undefined;
  mode: KantoMode;
  /** Where backup ZIPs wait for their upload (`backups/`) and downloads for their unpacking (`downloads/`). */
  storageDir: string;
  /** Keep a backup's ZIP after its upload succeeded (Kanto's keepUploaded). */
  keepUploaded: boolean;
  /** Time between periodic backups once `activate` switched them on (Kanto's period, 10h). */
  periodMs: number;
  /**
   * Let transfers (restores and uploads; `https.url`, `aws.endpoint`, `azure.storage.endpoint`)
   * reach loopback, link-local and private addresses. Any broker client may send these, so this is
   * off unless the receivers are on the device's network.
   */
  allowPrivateUrls: boolean;
  /** Largest download a restore accepts, in bytes. */
  maxDownloadBytes: number;
}

/** The transfer settings every Kanto transfer takes from the server's configuration. */
export function transferLimits(s: KantoSettings): { allowPrivateAddresses: boolean; maxBytes: number } {
  return { allowPrivateAddresses: s.allowPrivateUrls, maxBytes: s.maxDownloadBytes };
}

export interface DeviceContext {
  readonly core: Core;
  readonly settings: KantoSettings;
  /** The identity MQTT commands act as, in the audit log too: `mqtt:<thing-id>`. */
  actor(): Actor;
  readonly lastOperation: StatusTracker;
  readonly lastUpload: StatusTracker;
  /** Publishes on Hono's event topic; failures are logged, never thrown. */
  publishEvent(env: DittoEnvelope): void;
  thingId(): string;
  /** The tenant learned with the thing id (for the `reply-to` of upload requests). */
  tenantId(): string | undefined;
  /** Aborted when the adapter stops. */
  readonly signal: AbortSignal;
  log(msg: string, err?: unknown): void;
}

/** The end of a command that was accepted: the answer (204) is sent first, then this runs. */
export type Continuation = (() => Promise<void>) | undefined;

/** Kanto's file names: `backup-<UTC yyyy-MM-dd-HH.mm.ss.SSS>.zip`. */
export function timestampedName(prefix: string, now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${now.getUTCFullYear()}-${p(now.getUTCMonth() + 1)}-${p(now.getUTCDate())}-${p(now.getUTCHours())}.${p(now.getUTCMinutes())}.${p(now.getUTCSeconds())}.${p(now.getUTCMilliseconds(), 3)}`;
  return `${prefix}-${stamp}.zip`;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The object key (S3) or blob name (Azure) a backup is uploaded under when the options name none,
 * and the one a restore asks for by the same correlation id: so Kanto's documentation's restore example, which
 * names a bucket and a correlation id but no key, finds the ZIP its backup uploaded.
 */
export function objectNameFor(correlationId: string): string {
  return `${correlationId.replace(/[^A-Za-z0-9._-]/g, '_')}.zip`;
}
