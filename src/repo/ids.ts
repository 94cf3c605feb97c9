import { createHash } from 'node:crypto';

/** Storage ids and blob ids are lower-case hex SHA-256 digests (design.rst "Terminology"). */
export type ID = string;

export function hashId(data: Uint8Array): ID {
  return createHash('sha256').update(data).digest('hex');
}

const ID_RE = /^[0-9a-f]{64}$/;

export function isId(s: unknown): s is ID {
  return typeof s === 'string' && ID_RE.test(s);
}

export function shortId(id: ID): string {
  return id.slice(0, 8);
}
