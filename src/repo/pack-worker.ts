/** Worker thread entry for `PackWorkerPool`: verifies and restores packs off the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from './errors.js';
import { GarbageCollector } from './gc.js';
import { PackJobs } from './pack-jobs.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker } from './pack-worker-protocol.js';

const init = workerData as PackWorkerInit;
const jobs = new PackJobs({ encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) });
const port = parentPort!;
const collector = new GarbageCollector(8 * 1024 * 1024);

port.on('message', (msg: ToPackWorker) => {
  const data = Buffer.from(msg.data, 0, msg.length);
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
  // Decrypting allocates in small pieces; free them every few MiB decoded.
  collector.processed(msg.length);
});
