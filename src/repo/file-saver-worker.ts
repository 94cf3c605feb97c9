/** Worker thread entry: processes files sent by `FileSaverPool` (see worker-protocol.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { FileProcessor } from './file-processor.js';
import { type FromWorker, RING_SIZE, type ToWorker, type WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const key = { encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) };
const processor = new FileProcessor(key, init.polynomial, init.compress, new Set(init.known));
const ring = new Uint8Array(init.ring);
const released = new BigInt64Array(init.released);
const paused = new Int32Array(init.paused);
const port = parentPort!;
/** Ring bytes handed out so far (monotonic, including bytes skipped at the wrap). */
let written = 0;

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

/** Blocks this thread until the pack uploader has room and `length` bytes of ring are free. */
function claim(length: number): number {
  while (Atomics.load(paused, 0) === 1) Atomics.wait(paused, 0, 1, 1000);
  let offset = written % RING_SIZE;
  if (offset + length > RING_SIZE) {
    written += RING_SIZE - offset; // skip the tail: a blob is always contiguous
    offset = 0;
  }
  for (;;) {
    const free = RING_SIZE - (written - Number(Atomics.load(released, 0)));
    if (free >= length) break;
    Atomics.wait(released, 0, Atomics.load(released, 0), 1000);
  }
  written += length;
  return offset;
}

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'known') {
    processor.addKnown(msg.ids);
    return;
  }
  const job = msg.job;
  try {
    const result = processor.processFile(msg.path, (b) => {
      const offset = claim(b.sealedLength);
      b.sealInto(ring, offset);
      post({ kind: 'blob', job, id: b.id, offset, length: b.sealedLength, releaseTo: written, uncompressedLength: b.uncompressedLength, plainLength: b.plainLength });
    });
    post({ kind: 'done', job, content: result.content, size: result.size });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    post({ kind: 'failed', job, message: e.message ?? String(err), code: e.code });
  }
});
