/** Worker thread entry for `PackWorkerPool`: verifies and restores packs off the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from './errors.js';
import { GarbageCollector } from './gc.js';
import { PackJobs } from './pack-jobs.js';
import type { FromPackWorker, PackWorkerInit, ToPackWorker } from './pack-worker-protocol.js';

const init = workerData as PackWorkerInit;
/** Decryption allocates in small pieces: collect every 2 MiB decoded. */
const collector = new GarbageCollector(2 * 1024 * 1024);
const jobs = new PackJobs(
  { encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) },
  (bytes) => collector.processed(bytes),
);
const port = parentPort!;

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
});
