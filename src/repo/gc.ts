/**
 * Prompt release of large native buffers in worker threads (and the main thread where it decodes). A worker handling gigabytes allocates
 * few JS objects, so V8 rarely collects on its own and dead pack or cipher buffers (native memory
 * behind tiny wrappers) pile up by tens of MiB. A young-generation collection frees them; it costs
 * well under a millisecond when the young generation is small, as it is in our workers.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (opts?: { type: 'minor'; execution: 'sync' }) => void;

/**
 * A full collection, for the moment a long phase starts after a short one that left garbage in the
 * old generation (which V8 would otherwise carry, and grow from, until its next major collection).
 * Called without options: V8's forced full collection then also gives memory back (check's peak:
 * 130 → 119 MiB measured), which `{ type: 'major' }` does not.
 */
export function collectAll(): void {
  gc();
}

/** Collects young garbage once `every` bytes have been processed since the last collection. */
export class GarbageCollector {
  private since = 0;

  constructor(private readonly every: number) {}

  processed(bytes: number): void {
    this.since += bytes;
    if (this.since >= this.every) this.now();
  }

  now(): void {
    this.since = 0;
    gc({ type: 'minor', execution: 'sync' });
  }

}
