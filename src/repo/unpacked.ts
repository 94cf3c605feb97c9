/**
 * The "Unpacked Data Format" of design.rst: config, index, snapshot and lock files are one JSON
 * document each, sealed as `IV || ciphertext || MAC`. In format v2 the plaintext starts with an
 * encoding byte: 2 means zstd-compressed JSON follows; `{` or `[` means the whole plaintext is JSON.
 */
import { type MasterKey, open, seal } from './crypto.js';
import { zstdCompress, zstdDecompress } from './compression.js';
import { IntegrityError, UnsupportedFormatError } from './errors.js';

const ENCODING_ZSTD = 2;

export function encodeUnpacked(key: MasterKey, value: unknown, compress: boolean): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  if (!compress) return seal(key, json);
  const z = zstdCompress(json);
  const plain = Buffer.allocUnsafe(z.length + 1);
  plain[0] = ENCODING_ZSTD;
  z.copy(plain, 1);
  return seal(key, plain);
}

export function decodeUnpacked(key: MasterKey, sealed: Uint8Array, what: string): unknown {
  const plain = open(key, sealed, what);
  let json: Buffer;
  const first = plain[0];
  if (first === 0x7b || first === 0x5b) json = plain;
  else if (first === ENCODING_ZSTD) json = zstdDecompress(plain.subarray(1), what);
  else throw new UnsupportedFormatError(`${what}: unknown encoding version ${first}`);
  try {
    return JSON.parse(json.toString('utf8')) as unknown;
  } catch (err) {
    throw new IntegrityError(`${what}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}
