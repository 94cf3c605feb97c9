/** Byte counting for transfers whose SDK reports no progress of its own. */
import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes through, counting them, and reports each step to `onProgress`; fails past `limit` bytes. */
export class ByteCounter extends Transform {
  bytes = 0;
  constructor(
    private readonly total: number, private readonly onProgress?: (done: number, total: number) => void,
    private readonly limit = Number.POSITIVE_INFINITY, private readonly overLimit: () => Error = () => new Error(`more than ${limit} bytes`),
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(this.overLimit());
      return;
    }
    this.onProgress?.(this.bytes, this.total);
    cb(null, chunk);
  }
}
