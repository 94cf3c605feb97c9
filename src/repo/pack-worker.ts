/** Worker thread entry for `PackWorkerPool`: verifies and restores packs off the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from './errors.js';
import { GarbageCollector } from './gc.js';
import { PackJobs } from './pack-jobs.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker } from './pack-worker-protocol.js';

const init = workerData as PackWorkerInit;
const jobs = new PackJobs({ encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) });
const port = parentPort!;
const collector = new GarbageCollector(0);

port.on('message', (msg: ToPackWorker) => {
  const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
  let reply: FromPackWorker;
  try {
    if (msg.kind === 'verify') reply = { kind: 'verified', job: msg.job, problems: jobs.verify(msg.packId, data, msg.blobs) };
    else {
      jobs.restore(data, msg.start, msg.blobs);
      reply = { kind: 'restored', job: msg.job };
    }
  } catch (err) {
    reply = { kind: 'failed', job: msg.job, message: (err as Error).message ?? String(err), integrity: err instanceof IntegrityError };
  }
  port.postMessage(reply);
  // Once this handler has returned, the transferred pack is garbage: free it before the next one
  // (collecting inside the handler would find it still referenced from this frame).
  setImmediate(() => collector.full());
});
