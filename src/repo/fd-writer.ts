/**
 * A Writable over a file descriptor that the caller opened and will close (after fchmod, futimes
 * or a rename of its own). fs.WriteStream closes its fd when destroyed, whatever `autoClose` says,
 * and a FileHandle's write stream keeps the handle busy so that closing it waits forever: both
 * fight the caller over the fd's lifetime.
 */
import * as fs from 'node:fs';
import { Writable } from 'node:stream';

export function fdWriter(fd: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb): void {
      const rest = (offset: number): void => {
        fs.write(fd, chunk, offset, chunk.length - offset, null, (err, written) => {
          if (err) cb(err);
          else if (offset + written < chunk.length) rest(offset + written);
          else cb();
        });
      };
      rest(0);
    },
  });
}
