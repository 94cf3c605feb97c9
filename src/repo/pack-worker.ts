/** Worker thread entry for `PackWorkerPool`: verifies and restores packs off the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { GarbageCollector } from './gc.js';
import { PackJobs, runPackJob } from './pack-jobs.js';
import type { PackWorkerInit, ToPackWorker } from './pack-worker-protocol.js';

const init = workerData as PackWorkerInit;
/** Decryption allocates in small pieces: collect every 2 MiB decoded. */
const collector = new GarbageCollector(2 * 1024 * 1024);
const jobs = new PackJobs(
  { encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) },
  (bytes) => collector.processed(bytes),
);
const port = parentPort!;

port.on('message', (msg: ToPackWorker) => {
  const reply = runPackJob(jobs, msg);
  if (reply) port.postMessage(reply);
});
