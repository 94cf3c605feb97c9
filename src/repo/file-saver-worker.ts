/** Worker thread entry: processes files sent by `FileSaverPool`. */
import { parentPort, workerData } from 'node:worker_threads';
import { FileProcessor } from './file-processor.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const key = { encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR) };
const processor = new FileProcessor(key, init.polynomial, init.compress, new Set(init.known));
const credit = new Int32Array(init.credit);
const port = parentPort!;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(msg, transfer);
}

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'known') {
    processor.addKnown(msg.ids);
    return;
  }
  const job = msg.job;
  try {
    const result = processor.processFile(msg.path, (b) => {
      // Backpressure: block this thread while the main thread has too many of our bytes to pack.
      for (;;) {
        const outstanding = Atomics.load(credit, 0);
        if (outstanding < init.maxOutstandingBytes) break;
        Atomics.wait(credit, 0, outstanding, 1000);
      }
      Atomics.add(credit, 0, b.sealed.length);
      // The sealed buffer is freshly allocated and owned: transfer it instead of copying.
      const sealed = new Uint8Array(b.sealed.buffer, b.sealed.byteOffset, b.sealed.length);
      post({ kind: 'blob', job, id: b.id, sealed, uncompressedLength: b.uncompressedLength, plainLength: b.plainLength },
        b.sealed.byteOffset === 0 && b.sealed.byteLength === b.sealed.buffer.byteLength ? [b.sealed.buffer as ArrayBuffer] : undefined);
    });
    post({ kind: 'done', job, content: result.content, size: result.size });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    post({ kind: 'failed', job, message: e.message ?? String(err), code: e.code });
  }
});
