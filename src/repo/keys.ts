/**
 * Key files (design.rst "Keys, Encryption and MAC"): plain JSON holding scrypt parameters, a salt
 * and the master key sealed under the key scrypt derives from a password. A repository may have
 * many key files; each password opens the same master key.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { promisify } from 'node:util';
import type { Backend } from '../storage/index.js';
import { type MasterKey, keyFromBytes, masterKeyFromJSON, masterKeyToJSON, open, seal } from './crypto.js';
import { IntegrityError, NotFoundInRepoError, WrongPasswordError } from './errors.js';
import { type ID, hashId } from './ids.js';
import { formatTime } from './time.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;

export interface KDFParams {
  N: number;
  r: number;
  p: number;
}

/**
 * New keys: the 32 MiB of memory restic 0.14's calibration settles on here (N=2^15, r=8), with two
 * passes so that a guess costs as much time as Kopia's default (2^16, 8, 1), about 0.15 s. restic
 * calibrates p up to ~0.5 s, which every command pays on opening; scrypt's memory, not its
 * passes, is what dominates a small command's peak RSS. Keys keep the parameters they were made
 * with, so restic's keys open as they are.
 */
export const DEFAULT_KDF: KDFParams = { N: 32768, r: 8, p: 2 };

/** Cheap parameters for tests only, as restic's own test helpers use. */
export const TEST_KDF: KDFParams = { N: 1024, r: 8, p: 1 };

export interface KeyFile {
  created: string;
  username: string;
  hostname: string;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

export interface KeyInfo {
  id: ID;
  username: string;
  hostname: string;
  created: string;
}

async function deriveUserKey(password: string, params: KDFParams, salt: Buffer): Promise<MasterKey> {
  const maxmem = 128 * params.N * params.r * params.p + 64 * 1024 * 1024;
  const bytes = await scrypt(password, salt, 64, { N: params.N, r: params.r, p: params.p, maxmem });
  return keyFromBytes(bytes);
}

function parseKeyFile(raw: Buffer, id: string): KeyFile {
  let k: Partial<KeyFile>;
  try {
    k = JSON.parse(raw.toString('utf8')) as Partial<KeyFile>;
  } catch {
    throw new IntegrityError(`key ${id}: not valid JSON`);
  }
  if (k.kdf !== 'scrypt' || typeof k.N !== 'number' || typeof k.r !== 'number' || typeof k.p !== 'number' ||
      typeof k.salt !== 'string' || typeof k.data !== 'string') {
    throw new IntegrityError(`key ${id}: unsupported or invalid key file`);
  }
  return k as KeyFile;
}

/** Seals `master` under `password` and stores a new key file; returns its id. */
export async function addKey(backend: Backend, master: MasterKey, password: string, params: KDFParams = DEFAULT_KDF,
  who: { username?: string; hostname?: string } = {}): Promise<ID> {
  const salt = randomBytes(64);
  const userKey = await deriveUserKey(password, params, salt);
  const sealed = seal(userKey, Buffer.from(JSON.stringify(masterKeyToJSON(master))));
  const file: KeyFile = {
    created: formatTime(new Date()),
    username: who.username ?? safeUsername(),
    hostname: who.hostname ?? hostname(),
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    data: sealed.toString('base64'),
  };
  const raw = Buffer.from(JSON.stringify(file));
  const id = hashId(raw);
  await backend.save({ type: 'key', name: id }, raw);
  return id;
}

export function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/** Tries every key file (a hinted one first) and returns the master key the password opens. */
export async function openWithPassword(backend: Backend, password: string, hint?: ID): Promise<{ key: MasterKey; keyId: ID }> {
  const ids: ID[] = [];
  for await (const f of backend.list('key')) ids.push(f.name);
  if (hint && ids.includes(hint)) ids.unshift(...ids.splice(ids.indexOf(hint), 1));
  for (const id of ids) {
    const file = parseKeyFile(await backend.load({ type: 'key', name: id }), id);
    const userKey = await deriveUserKey(password, file, Buffer.from(file.salt, 'base64'));
    let plain: Buffer;
    try {
      plain = open(userKey, Buffer.from(file.data, 'base64'), `key ${id}`);
    } catch (err) {
      if (err instanceof IntegrityError) continue; // wrong password for this key: try the next one
      throw err;
    }
    return { key: masterKeyFromJSON(JSON.parse(plain.toString('utf8'))), keyId: id };
  }
  throw new WrongPasswordError('wrong password or no key found');
}

export async function listKeys(backend: Backend): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for await (const f of backend.list('key')) {
    const file = parseKeyFile(await backend.load({ type: 'key', name: f.name }), f.name);
    out.push({ id: f.name, username: file.username, hostname: file.hostname, created: file.created });
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

/** Removes a key file. Refuses to remove the key in use, so a repository never ends up with no key. */
export async function removeKey(backend: Backend, id: ID, currentKeyId: ID): Promise<void> {
  if (id === currentKeyId) throw new IntegrityError('refusing to remove the key currently used to access the repository');
  const ids: ID[] = [];
  for await (const f of backend.list('key')) ids.push(f.name);
  const matches = ids.filter((k) => k.startsWith(id));
  if (matches.length === 0) throw new NotFoundInRepoError(`key ${id} not found`);
  if (matches.length > 1) throw new NotFoundInRepoError(`key prefix ${id} is ambiguous`);
  if (matches[0] === currentKeyId) throw new IntegrityError('refusing to remove the key currently used to access the repository');
  await backend.remove({ type: 'key', name: matches[0]! });
}
