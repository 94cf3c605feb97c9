/**
 * The server secret (32 random bytes in `<data-dir>/secret.key`, mode 0600, or given by
 * `--secret-file`/COFFER_SECRET_FILE when several processes share a catalog) and what it
 * protects: repository passwords in the catalog are sealed with AES-256-GCM under a key derived
 * from it, so a copy of the catalog alone opens no repository.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SEAL_VERSION = 'v1';

export class ServerSecret {
  // Not readonly: a configuration restore may adopt another secret, and every holder of this object must see it (reload).
  private constructor(private sealKey: Buffer, private macKey: Buffer) {}

  static fromBytes(secret: Buffer): ServerSecret {
    if (secret.length < 32) throw new Error('the server secret must be at least 32 bytes');
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
    return new ServerSecret(derive('coffer seal v1'), derive('coffer mac v1'));
  }

  /** Reads the secret file, which must exist (for tools that work on a server's data, never making one). */
  static load(file: string): ServerSecret {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no server secret at ${file}: is this the server's data directory (or --secret-file)?`);
      throw err;
    }
    return ServerSecret.fromBytes(decodeSecretText(text));
  }

  /** Reads the secret file, creating it (0600) when it does not exist yet. */
  static loadOrCreate(file: string): ServerSecret {
    try {
      return ServerSecret.fromBytes(decodeSecretText(fs.readFileSync(file, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const bytes = randomBytes(32);
    try {
      fs.writeFileSync(file, bytes.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return ServerSecret.fromBytes(decodeSecretText(fs.readFileSync(file, 'utf8')));
    }
    return ServerSecret.fromBytes(bytes);
  }

  /** Reads the secret file again, in place (after a configuration restore wrote another secret to it). */
  reload(file: string): void {
    const next = ServerSecret.fromBytes(decodeSecretText(fs.readFileSync(file, 'utf8')));
    this.sealKey = next.sealKey;
    this.macKey = next.macKey;
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return `${SEAL_VERSION}:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    const [version, data] = sealed.split(':', 2);
    if (version !== SEAL_VERSION || !data) throw new Error('sealed value has an unknown format');
    const raw = Buffer.from(data, 'base64');
    const d = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new Error('sealed value does not open with this server secret (was the secret file replaced?)');
    }
  }

  /** A keyed MAC, for tokens the server hands out and checks later (signed download links). */
  mac(data: string): string {
    return createHmac('sha256', this.macKey).update(data).digest('base64url');
  }
}

/** The secret file's text (base64, or hex) → the secret's bytes. */
export function decodeSecretText(text: string): Buffer {
  const t = text.trim();
  return /^[0-9a-f]{64,}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
}
