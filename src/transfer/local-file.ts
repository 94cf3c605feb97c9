/**
 * The local side of transfers: the file an upload reads (checked to be a regular file, its size
 * known up front) and the file a download writes (created new, removed again on any failure, so a
 * half-written archive is never left to be mistaken for a whole one).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TransferCancelledError, TransferError, describeError, throwIfCancelled } from './errors.js';
import type { TransferControl } from './options.js';
import { fdWriter } from '../repo/index.js';
import { ByteCounter } from './progress.js';

/** The size of the file to upload; refuses anything but a readable regular file. */
export async function uploadSize(file: string): Promise<number> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    throw new TransferError(`cannot read the file to upload: ${describeError(err)}`, { cause: err });
  }
  if (!st.isFile()) throw new TransferError(`cannot upload ${file}: not a regular file`);
  return st.size;
}

/** What a download source hands over: the body, and its length when the server said it. */
export interface DownloadBody {
  body: Readable | NodeJS.ReadableStream;
  total: number | undefined;
}

/**
 * Creates `toFile` (it must not exist: an existing file is never clobbered nor removed), fetches
 * the body with `open` and writes it there, checking its length; on failure or cancellation the
 * partial file is removed and the error passes on.
 */
export async function downloadInto(toFile: string, c: TransferControl, what: string, open: () => Promise<DownloadBody>): Promise<{ bytes: number }> {
  throwIfCancelled(c.signal, what);
  let fd: number;
  try {
    fd = fs.openSync(toFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    throw new TransferError(`cannot create ${toFile}: ${describeError(err)}`, { cause: err });
  }
  try {
    const limit = await downloadLimit(path.dirname(toFile), c.maxBytes);
    const { body, total } = await open();
    if (total !== undefined && total > limit.bytes) {
      if ('destroy' in body && typeof body.destroy === 'function') body.destroy();
      throw new TransferError(`${what} refused: it is ${total} bytes, larger than ${limit.what} (${limit.bytes} bytes)`);
    }
    const counter = new ByteCounter(total ?? 0, c.onProgress, limit.bytes, () => new TransferError(`${what} stopped: it is larger than ${limit.what} (${limit.bytes} bytes)`));
    try {
      await pipeline(body, counter, fdWriter(fd), ...(c.signal ? [{ signal: c.signal }] : []));
    } catch (err) {
      if (c.signal?.aborted) throw new TransferCancelledError(`${what} cancelled`, { cause: err });
      if (err instanceof TransferError) throw err;
      throw new TransferError(`${what} failed while receiving data: ${describeError(err)}`, { cause: err });
    }
    if (total !== undefined && counter.bytes !== total) {
      throw new TransferError(`${what} failed: received ${counter.bytes} bytes, the server announced ${total}`);
    }
    // The caller unpacks it next; a crash must not leave a file that looks whole but is not.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    return { bytes: counter.bytes };
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(toFile, { force: true });
    throw err;
  }
}

/** The most a download may write: the caller's cap, or less when the disk has less room. */
async function downloadLimit(dir: string, maxBytes: number | undefined): Promise<{ bytes: number; what: string }> {
  const cap = maxBytes ?? Number.POSITIVE_INFINITY;
  let free = Number.POSITIVE_INFINITY;
  try {
    const st = await fs.promises.statfs(dir);
    free = st.bavail * st.bsize;
  } catch {
    // No statfs here (an unusual filesystem): the cap alone applies, and ENOSPC still ends the write.
  }
  return free < cap ? { bytes: free, what: `the free space in ${dir}` } : { bytes: cap, what: 'the download limit' };
}
