/**
 * What one server lets uploads take: how many run at once, how far a file may expand, how long a
 * body may pause, and whether the disk holds what a file declares before a byte is unpacked. An
 * upload's data lands on the disk of the catalog and the default repository: a file that fills it
 * takes the whole server down, not only the upload.
 */
import * as fs from 'node:fs';
import { CoreError } from './errors.js';

/** Uploads one process takes at once (each spools, unpacks and stores a whole file). */
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 4;
/** A file may expand to this many times the largest upload accepted (the aggregate ratio bounds it further). */
export const UNPACKED_PER_UPLOAD_BYTE = 20;
/**
 * How long a transfer may stall before it is ended: an upload body that stops arriving, a download
 * nobody reads (it would hold a repository lock). The HTTP layer and the upload spool share it.
 */
export const DEFAULT_TRANSFER_IDLE_MS = 60_000;
/** Left free beyond what a file declares: the catalog, logs and the repository's own packs need room too. */
export const FREE_SPACE_MARGIN_BYTES = 256 * 1024 * 1024;

/** The total an upload may unpack to unless configured: tied to max-upload-bytes. */
export function defaultMaxUnpackedBytes(maxUploadBytes: number): number {
  return UNPACKED_PER_UPLOAD_BYTE * maxUploadBytes;
}

/**
 * Refuses (503) unless `dir`'s file system has `bytes` free beyond the margin. Called with the
 * total a file declares before it is unpacked (actual sizes are checked against the declared ones
 * while unpacking), so a file that cannot fit never starts filling the disk.
 */
export async function checkFreeSpace(dir: string, bytes: number): Promise<void> {
  const s = await fs.promises.statfs(dir);
  const free = s.bavail * s.bsize;
  if (bytes + FREE_SPACE_MARGIN_BYTES > free) {
    throw new CoreError('unavailable', `not enough free space to unpack the backup file: it expands to ${bytes} bytes, `
      + `${free} bytes are free where uploads are unpacked and ${FREE_SPACE_MARGIN_BYTES} must stay free`, undefined, { retryAfterSeconds: 600 });
  }
}

/** A count of uploads running in this process; one past the limit is refused, not queued (the client holds its body). */
export class UploadSlots {
  private active = 0;
  constructor(private readonly max: number) {}

  /** A release function, or CoreError('unavailable') with a time to retry after. */
  take(): () => void {
    if (this.active >= this.max) {
      throw new CoreError('unavailable', `this server takes ${this.max} uploads at once and all are busy; try again shortly`, undefined, { retryAfterSeconds: 30 });
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }
}
