/**
 * Maps a repository location, spelled as restic spells it, to a backend. A new provider adds one
 * entry here and its own module; nothing else learns its name.
 */
import * as path from 'node:path';
import type { Backend } from './backend.js';
import { LocalBackend } from './local.js';
import { MemoryBackend } from './memory.js';

export interface Location {
  readonly scheme: string;
  /** The rest of the location after `scheme:`. */
  readonly rest: string;
}

interface Factory {
  open(loc: Location): Backend;
}

const FACTORIES: Record<string, Factory> = {
  local: { open: (loc) => new LocalBackend(loc.rest) },
  memory: { open: () => new MemoryBackend() },
};

export function parseLocation(location: string): Location {
  const m = /^([a-z0-9]+):(.*)$/.exec(location);
  // A bare path (or a Windows-style drive letter) is a local repository, as in restic.
  if (!m || m[1]!.length === 1 || !(m[1]! in FACTORIES)) return { scheme: 'local', rest: path.resolve(location) };
  return { scheme: m[1]!, rest: m[2]! };
}

export function openBackend(location: string): Backend {
  const loc = parseLocation(location);
  const factory = FACTORIES[loc.scheme];
  if (!factory) throw new Error(`unknown repository scheme ${loc.scheme}`);
  return factory.open(loc);
}
