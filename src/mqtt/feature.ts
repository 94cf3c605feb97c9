/**
 * The BackupAndRestore feature as Kanto announces it (KANTO.md 1.6) and the status properties it
 * keeps current: `lastOperation` (backup/restore) and `lastUpload`.
 */
import { type DittoEnvelope, twinModify } from './envelope.js';
import { type AutoUploadValue, INACTIVE } from './periodic-backups.js';

export const FEATURE_DEFINITIONS = [
  'com.bosch.iot.suite.manager.backup:BackupAndRestore:1.0.0',
  'com.bosch.iot.suite.manager.upload:Uploadable:1.0.0',
] as const;

export const SUPPORTED_PROVIDERS = 'aws,azure,generic';

export function featureCreation(thingId: string, featureId: string, autoUpload: AutoUploadValue = INACTIVE): DittoEnvelope {
  return twinModify(thingId, `/features/${featureId}`, {
    definition: [...FEATURE_DEFINITIONS],
    properties: {
      type: 'file',
      context: 'edge',
      info: { supportedProviders: SUPPORTED_PROVIDERS },
      // Periodic backups switched by activate/deactivate (periodic-backups.ts).
      autoUpload,
    },
  });
}

export type OperationState =
  | 'BACKUP_STARTED' | 'BACKUP_FINISHED' | 'BACKUP_FAILED'
  | 'RESTORE_STARTED' | 'RESTORE_FINISHED' | 'RESTORE_FAILED';
export type UploadState = 'UPLOADING' | 'SUCCESS' | 'FAILED' | 'CANCELED';

/** The shape of both properties (Kanto's upload status struct). */
export interface StatusValue {
  correlationId: string;
  state: OperationState | UploadState;
  startTime: string;
  /** Go's zero time until the operation ends, as Kanto sends it. */
  endTime: string;
  statusCode: string;
  message: string;
  progress: number;
  info: Record<string, string> | null;
}

export const UNSET_TIME = '0001-01-01T00:00:00Z';
export type StatusProperty = 'lastOperation' | 'lastUpload';

/**
 * One status property: every change is published as a twin modification; progress only when the
 * whole percentage moves, so a large transfer sends at most about a hundred events.
 */
export class StatusTracker {
  private current: StatusValue | undefined;

  constructor(private readonly name: StatusProperty, private readonly send: (name: StatusProperty, value: StatusValue) => void) {}

  get value(): StatusValue | undefined {
    return this.current;
  }

  begin(correlationId: string, state: StatusValue['state'], info: Record<string, string> | null = null): void {
    this.set({ correlationId, state, startTime: new Date().toISOString(), endTime: UNSET_TIME, statusCode: '', message: '', progress: 0, info });
  }

  progress(correlationId: string, percent: number): void {
    const c = this.current;
    const p = Math.max(0, Math.min(99, Math.floor(percent)));
    if (!c || c.correlationId !== correlationId || c.endTime !== UNSET_TIME || p <= c.progress) return;
    this.set({ ...c, progress: p });
  }

  end(correlationId: string, state: StatusValue['state'], o: { message?: string; statusCode?: string; progress?: number } = {}): void {
    const c = this.current;
    const base = c && c.correlationId === correlationId ? c : { correlationId, startTime: new Date().toISOString(), info: null, progress: 0 };
    this.set({
      correlationId, state, startTime: base.startTime, endTime: new Date().toISOString(), info: base.info,
      statusCode: o.statusCode ?? '', message: o.message ?? '', progress: o.progress ?? base.progress,
    });
  }

  /** Sends the current value again (after the feature was re-created on a new connection). */
  republish(): void {
    if (this.current) this.send(this.name, this.current);
  }

  private set(v: StatusValue): void {
    this.current = v;
    this.send(this.name, v);
  }
}

export function propertyModify(thingId: string, featureId: string, name: StatusProperty | 'autoUpload', value: StatusValue | AutoUploadValue): DittoEnvelope {
  return twinModify(thingId, `/features/${featureId}/properties/${name}`, value);
}
