/**
 * restic's authenticated encryption (design.rst "Keys, Encryption and MAC"):
 * `IV(16) || AES-256-CTR(plaintext) || Poly1305-AES(ciphertext)`. The same 16 random bytes serve
 * as the CTR counter block and the Poly1305-AES nonce. The one-time Poly1305 key is `r || AES-128_k(nonce)`.
 * AES comes from node's OpenSSL (AES-NI); Poly1305 from libsodium, since node does not expose it.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import sodium from 'sodium-native';
import { IntegrityError } from './errors.js';

export const IV_SIZE = 16;
export const MAC_SIZE = 16;
export const CRYPTO_OVERHEAD = IV_SIZE + MAC_SIZE;

/** The master key: 32 bytes for AES-256, and the Poly1305-AES pair (k: AES-128 key, r: Poly1305 key). */
export interface MasterKey {
  readonly encrypt: Buffer;
  readonly macK: Buffer;
  readonly macR: Buffer;
}

/** The JSON shape of a master key inside a key file's `data` (design.rst, `restic cat masterkey`). */
export interface MasterKeyJSON {
  mac: { k: string; r: string };
  encrypt: string;
}

/** Clears the bits Poly1305 requires to be zero in r (Bernstein's paper, section 2). */
function maskR(r: Buffer): Buffer {
  const m = Buffer.from(r);
  m[3]! &= 15;
  m[7]! &= 15;
  m[11]! &= 15;
  m[15]! &= 15;
  m[4]! &= 252;
  m[8]! &= 252;
  m[12]! &= 252;
  return m;
}

export function newMasterKey(): MasterKey {
  const k = randomBytes(64);
  return { encrypt: k.subarray(0, 32), macK: k.subarray(32, 48), macR: maskR(k.subarray(48, 64)) };
}

/** Splits 64 derived bytes as design.rst says: 32 encryption, then 16 k, then 16 r. */
export function keyFromBytes(k: Uint8Array): MasterKey {
  const b = Buffer.from(k);
  return { encrypt: b.subarray(0, 32), macK: b.subarray(32, 48), macR: maskR(b.subarray(48, 64)) };
}

export function masterKeyToJSON(key: MasterKey): MasterKeyJSON {
  return {
    mac: { k: key.macK.toString('base64'), r: key.macR.toString('base64') },
    encrypt: key.encrypt.toString('base64'),
  };
}

export function masterKeyFromJSON(json: unknown): MasterKey {
  const j = json as Partial<MasterKeyJSON> | null;
  const enc = typeof j?.encrypt === 'string' ? Buffer.from(j.encrypt, 'base64') : undefined;
  const k = typeof j?.mac?.k === 'string' ? Buffer.from(j.mac.k, 'base64') : undefined;
  const r = typeof j?.mac?.r === 'string' ? Buffer.from(j.mac.r, 'base64') : undefined;
  if (enc?.length !== 32 || k?.length !== 16 || r?.length !== 16) throw new IntegrityError('master key has an invalid shape');
  return { encrypt: enc, macK: k, macR: maskR(r) };
}

function polyKey(key: MasterKey, nonce: Uint8Array): Buffer {
  const aes = createCipheriv('aes-128-ecb', key.macK, null);
  aes.setAutoPadding(false);
  const s = aes.update(nonce);
  const out = Buffer.allocUnsafe(32);
  key.macR.copy(out, 0);
  s.copy(out, 16);
  return out;
}

function mac(key: MasterKey, nonce: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): void {
  sodium.crypto_onetimeauth(out, ciphertext, polyKey(key, nonce));
}

/** The Poly1305-AES tag of `ciphertext` under `nonce`. */
export function macOf(key: MasterKey, nonce: Uint8Array, ciphertext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(MAC_SIZE);
  mac(key, nonce, ciphertext, out);
  return out;
}

/**
 * Poly1305-AES over a ciphertext that arrives in pieces (`check --read-data` streams packs through
 * small buffers, so a large blob is never whole in memory).
 */
export class MacStream {
  private readonly state = Buffer.alloc(sodium.crypto_onetimeauth_STATEBYTES);

  constructor(key: MasterKey, nonce: Uint8Array) {
    sodium.crypto_onetimeauth_init(this.state, polyKey(key, nonce));
  }

  update(ciphertext: Uint8Array): void {
    sodium.crypto_onetimeauth_update(this.state, ciphertext);
  }

  /** Whether `tag` is the MAC of everything passed to `update`. Call once. */
  verify(tag: Uint8Array): boolean {
    const out = Buffer.allocUnsafe(MAC_SIZE);
    sodium.crypto_onetimeauth_final(this.state, out);
    return tag.length === MAC_SIZE && timingSafeEqual(out, tag);
  }
}

const SEAL_PIECE = 16 * 1024;
let macState: Buffer | undefined;

/**
 * Seals in place: `buf[offset + 16, offset + 16 + length)` holds the plaintext; afterwards
 * `buf[offset, offset + length + 32)` is `IV || ciphertext || MAC`. Workers compress straight into
 * their shared ring and seal there, so a chunk is never copied into an intermediate buffer; the
 * cipher's output comes in 16 KiB pieces, small enough for the allocator to recycle at once.
 * Returns the sealed length.
 */
export function sealInPlace(key: MasterKey, buf: Uint8Array, offset: number, length: number): number {
  const iv = randomBytes(IV_SIZE);
  buf.set(iv, offset);
  const cipher = createCipheriv('aes-256-ctr', key.encrypt, iv);
  macState ??= Buffer.alloc(sodium.crypto_onetimeauth_STATEBYTES);
  sodium.crypto_onetimeauth_init(macState, polyKey(key, iv));
  const begin = offset + IV_SIZE;
  const stop = begin + length;
  for (let p = begin; p < stop; p += SEAL_PIECE) {
    const ct = cipher.update(buf.subarray(p, Math.min(stop, p + SEAL_PIECE)));
    sodium.crypto_onetimeauth_update(macState, ct);
    buf.set(ct, p);
  }
  cipher.final();
  sodium.crypto_onetimeauth_final(macState, buf.subarray(stop, stop + MAC_SIZE));
  return length + CRYPTO_OVERHEAD;
}

/** Encrypts `plaintext` into a fresh buffer `IV || ciphertext || MAC`. */
export function seal(key: MasterKey, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + CRYPTO_OVERHEAD);
  out.set(plaintext, IV_SIZE);
  sealInPlace(key, out, 0, plaintext.length);
  return out;
}

/** Verifies the MAC, then decrypts. Throws `IntegrityError` when the data was altered or the key is wrong. */
export function open(key: MasterKey, sealed: Uint8Array, what = 'data'): Buffer {
  if (sealed.length < CRYPTO_OVERHEAD) throw new IntegrityError(`${what}: ciphertext too short (${sealed.length} bytes)`);
  const iv = sealed.subarray(0, IV_SIZE);
  const body = sealed.subarray(IV_SIZE, sealed.length - MAC_SIZE);
  const tag = sealed.subarray(sealed.length - MAC_SIZE);
  const expected = Buffer.allocUnsafe(MAC_SIZE);
  mac(key, iv, body, expected);
  if (!timingSafeEqual(expected, tag)) throw new IntegrityError(`${what}: MAC verification failed (damaged data or wrong key)`);
  const decipher = createDecipheriv('aes-256-ctr', key.encrypt, iv);
  const pt = decipher.update(body);
  decipher.final();
  return pt;
}
