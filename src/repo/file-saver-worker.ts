/** Worker thread entry: processes files sent by `FileSaverPool` (see worker-protocol.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { type BlobSink, FileProcessor } from './file-processor.js';
import { GarbageCollector } from './gc.js';
import { SharedIdSet } from './shared-id-set.js';
import { type FromWorker, RING_SIZE, type ToWorker, type WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const key = { encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) };
const processor = new FileProcessor(key, init.polynomial, init.compress, new SharedIdSet(init.known));
const ring = new Uint8Array(init.ring);
const releasedBytes = new BigInt64Array(init.released);
const paused = new Int32Array(init.paused);
const port = parentPort!;
/** Absolute end of the last blob written to the ring (monotonic, counting skipped tails). */
let written = 0;

/** Cipher.update allocates per call: collect every 4 MiB sealed (~0.1 s per GiB). */
const collector = new GarbageCollector(4 * 1024 * 1024);

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

/**
 * Blocks until the pack uploader has room and `length` contiguous ring bytes are free; returns
 * the blob's absolute start (ring offset = start % RING_SIZE). A blob that would straddle the end
 * of the ring starts the next lap instead; the skipped tail holds no data, so only bytes actually
 * written in the previous lap over the new blob's range must have been released.
 */
function claim(length: number): number {
  while (Atomics.load(paused, 0) === 1) Atomics.wait(paused, 0, 1, 1000);
  let start = written;
  const offset = start % RING_SIZE;
  if (offset + length > RING_SIZE) start += RING_SIZE - offset;
  const mustBeReleased = Math.min(written, start + length - RING_SIZE);
  for (;;) {
    const released = Number(Atomics.load(releasedBytes, 0));
    if (released >= mustBeReleased) break;
    Atomics.wait(releasedBytes, 0, BigInt(released), 1000);
  }
  return start;
}

let currentJob = 0;

/** Blobs are compressed and sealed straight into the ring, then announced to the main thread. */
let blobStart = 0;
const sink: BlobSink = {
  reserve: (maxLength) => {
    blobStart = claim(maxLength);
    return { buf: ring, offset: blobStart % RING_SIZE };
  },
  commit: (b) => {
    written = blobStart + b.sealedLength;
    post({ kind: 'blob', job: currentJob, id: b.id, offset: b.offset, length: b.sealedLength, releaseTo: written,
      uncompressedLength: b.uncompressedLength, plainLength: b.plainLength });
    collector.processed(b.sealedLength);
  },
};

port.on('message', (msg: ToWorker) => {
  const job = msg.job;
  currentJob = job;
  try {
    const result = processor.processFile(msg.path, sink);
    post({ kind: 'done', job, content: result.content, size: result.size });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    post({ kind: 'failed', job, message: e.message ?? String(err), code: e.code });
  }
});
