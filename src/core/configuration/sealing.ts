/**
 * Sealing the sensitive values of a configuration document: one AES-256-GCM block whose key comes
 * either from a caller's password (scrypt, salt and parameters stored in the file) or from the
 * server secret (the configuration inside a backup of the device). The readable rest of the
 * document is the block's additional authenticated data, so a changed byte anywhere is noticed.
 * A password check value (HMAC under a second key derived alongside) tells "wrong password"
 * apart from "file altered"; it reveals nothing an attacker could not test against the block itself.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { CoreError } from '../errors.js';
import type { ServerSecret } from '../secrets.js';

/** scrypt at 64 MiB and about a quarter second: dear for a guesser, cheap for one export. */
export const DEFAULT_SCRYPT = { N: 2 ** 16, r: 8, p: 1 } as const;
/** What a file may ask for: a hostile file must not make the server allocate gigabytes. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

export interface ScryptParams {
  name: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
}

export type SealingHeader =
  | { method: 'password'; cipher: 'aes-256-gcm'; kdf: ScryptParams; check: string }
  | { method: 'server-secret'; cipher: 'aes-256-gcm' };

export interface SealedBlock {
  iv: string;
  tag: string;
  ciphertext: string;
}

/** The two keys of one sealing: one encrypts, one proves the password. */
interface Keys {
  enc: Buffer;
  check: Buffer;
}

function split(master: Buffer, context: string): Keys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `${context} ${info}`, 32));
  return { enc: derive('encrypt'), check: derive('check') };
}

const CHECK_TEXT = 'coffer configuration password check v1';

function scryptKey(password: string, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), Buffer.from(p.salt, 'base64'), 32, { N: p.N, r: p.r, p: p.p, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A key ready to seal and open, with the header that lets the same key be derived again. */
export class Sealer {
  private constructor(readonly header: SealingHeader, private readonly keys: Keys) {}

  /** A fresh salt and the default parameters: for an export. */
  static async forPassword(password: string): Promise<Sealer> {
    const kdf: ScryptParams = { name: 'scrypt', salt: randomBytes(16).toString('base64'), ...DEFAULT_SCRYPT };
    const keys = split(await scryptKey(password, kdf), 'coffer configuration password');
    return new Sealer({ method: 'password', cipher: 'aes-256-gcm', kdf, check: checkValue(keys) }, keys);
  }

  static forServerSecret(secret: ServerSecret): Sealer {
    // The secret's keyed MAC of a fixed label is a key only the secret's holder can make.
    const master = Buffer.from(secret.mac('coffer configuration seal v1'), 'base64url');
    return new Sealer({ method: 'server-secret', cipher: 'aes-256-gcm' }, split(master, 'coffer configuration server-secret'));
  }

  /**
   * The sealer a file's header describes, given the password (or the server secret for a
   * device backup's copy). A wrong password is CoreError('invalid') saying so.
   */
  static async fromHeader(header: SealingHeader, password: string | undefined, secret: ServerSecret): Promise<Sealer> {
    if (header.method === 'server-secret') return Sealer.forServerSecret(secret);
    if (password === undefined) throw new CoreError('invalid', 'password: this configuration backup is sealed with a password; give it', 'password');
    checkScrypt(header.kdf);
    const keys = split(await scryptKey(password, header.kdf), 'coffer configuration password');
    const expected = Buffer.from(header.check, 'base64');
    const actual = Buffer.from(checkValue(keys), 'base64');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new CoreError('invalid', 'password: wrong password for this configuration backup', 'password');
    }
    return new Sealer(header, keys);
  }

  seal(plaintext: string, aad: string): SealedBlock {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.keys.enc, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), ciphertext: body.toString('base64') };
  }

  /** The plaintext, or CoreError('invalid') when the block or the readable part was altered. */
  open(block: SealedBlock, aad: string): string {
    const iv = Buffer.from(block.iv, 'base64');
    const tag = Buffer.from(block.tag, 'base64');
    if (iv.length !== 12 || tag.length !== 16) throw altered();
    const d = createDecipheriv('aes-256-gcm', this.keys.enc, iv);
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(Buffer.from(block.ciphertext, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw altered();
    }
  }
}

function altered(): CoreError {
  return new CoreError('invalid', 'backup: the configuration backup was altered or damaged (its sealed values do not authenticate)', 'backup');
}

function checkValue(keys: Keys): string {
  return createHmac('sha256', keys.check).update(CHECK_TEXT).digest('base64');
}

/** Bounds on parameters read from a file (scrypt needs 128 · N · r bytes). */
function checkScrypt(p: ScryptParams): void {
  const ok = Number.isInteger(p.N) && p.N >= 2 ** 10 && (p.N & (p.N - 1)) === 0 && Number.isInteger(p.r) && p.r >= 1 && p.r <= 32
    && Number.isInteger(p.p) && p.p >= 1 && p.p <= 16 && 128 * p.N * p.r <= MAX_SCRYPT_MEMORY && Buffer.from(p.salt, 'base64').length >= 16;
  if (!ok) throw new CoreError('invalid', 'backup: the key derivation parameters of this configuration backup are out of bounds', 'backup');
}
