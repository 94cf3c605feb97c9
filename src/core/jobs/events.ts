import { EventEmitter } from 'node:events';
import type { Job } from '../../catalog/index.js';

/**
 * Job updates inside this process, for Server-Sent Events and the MQTT feature. Subscribers in
 * other processes (API-only servers) poll the catalog instead; this bus only makes local updates
 * arrive at once.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(job: Job): void {
    this.emitter.emit(String(job.id), job);
    this.emitter.emit('*', job);
  }

  subscribe(jobId: number | '*', fn: (job: Job) => void): () => void {
    const key = String(jobId);
    this.emitter.on(key, fn);
    return () => this.emitter.off(key, fn);
  }
}
