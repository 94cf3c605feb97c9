/** The repository `config` file (design.rst "Repository Format"): version 2, id, chunker polynomial. */
import { randomBytes } from 'node:crypto';
import { UnsupportedFormatError } from './errors.js';
import { isId } from './ids.js';
import { polynomialToHex, randomPolynomial } from './polynomial.js';

export interface RepoConfig {
  version: number;
  id: string;
  chunker_polynomial: string;
}

export function newConfig(): RepoConfig {
  return { version: 2, id: randomBytes(32).toString('hex'), chunker_polynomial: polynomialToHex(randomPolynomial()) };
}

export function parseConfig(json: unknown): RepoConfig {
  const c = json as Partial<RepoConfig> | null;
  if (typeof c?.version !== 'number' || !isId(c.id) || typeof c.chunker_polynomial !== 'string') {
    throw new UnsupportedFormatError('config has an invalid shape');
  }
  if (c.version !== 1 && c.version !== 2) throw new UnsupportedFormatError(`repository format version ${c.version} is not supported`);
  if (!/^[0-9a-f]+$/.test(c.chunker_polynomial)) throw new UnsupportedFormatError('config: invalid chunker polynomial');
  return { version: c.version, id: c.id, chunker_polynomial: c.chunker_polynomial };
}
