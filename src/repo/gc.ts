/**
 * Prompt release of large native buffers in worker threads. A worker handling gigabytes allocates
 * few JS objects, so V8 rarely collects on its own and dead pack or cipher buffers (native memory
 * behind tiny wrappers) pile up by tens of MiB. A young-generation collection frees them; it costs
 * well under a millisecond when the young generation is small, as it is in our workers.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (opts: { type: 'minor'; execution: 'sync' }) => void;

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
