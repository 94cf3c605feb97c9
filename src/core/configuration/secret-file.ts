/**
 * The server secret file, read as bytes (an export carries them) and replaced atomically when a
 * restore adopts the secret of the configuration it restores: the new secret is written to a
 * temporary file and fsynced BEFORE the catalog changes, renamed over the old one only after the
 * catalog committed, so that either the old pair (file, catalog) or the new pair stays usable.
 * The previous secret is kept beside it (`.previous`) for the hour something goes wrong anyway.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSecretText } from '../secrets.js';

export function readSecretBytes(file: string): Buffer {
  return decodeSecretText(fs.readFileSync(file, 'utf8'));
}

/** A secret written beside its final place, ready to be put there by `commit` or dropped by `discard`. */
export class PendingSecret {
  private constructor(private readonly file: string, private readonly temp: string) {}

  static prepare(file: string, bytes: Buffer): PendingSecret {
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeSync(fd, bytes.toString('base64') + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return new PendingSecret(file, temp);
  }

  commit(): void {
    try {
      fs.copyFileSync(this.file, `${this.file}.previous`);
      fs.chmodSync(`${this.file}.previous`, 0o600);
    } catch {
      // No old secret to keep (or no room for the copy): the new one matters more.
    }
    fs.renameSync(this.temp, this.file);
    syncDir(path.dirname(this.file));
  }

  discard(): void {
    fs.rmSync(this.temp, { force: true });
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself has happened.
  }
}

/** Writes `text` to `file` atomically (temp + fsync + rename), mode 0600. */
export function writeFileAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  syncDir(path.dirname(file));
}
