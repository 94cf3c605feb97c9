/**
 * Tree nodes with the JSON fields restic writes (design.rst "Trees and Data"; restic's `Node`).
 * `mode` is Go's `os.FileMode`: permission bits plus type and special bits in the high bits, not
 * the POSIX `st_mode`, so conversions live here and nowhere else.
 */
import { IntegrityError } from './errors.js';
import { goQuote, goUnquote } from './go-quote.js';
import type { ID } from './ids.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular';

export interface TreeNode {
  name: string;
  type: NodeType;
  mode?: number;
  mtime: string;
  atime: string;
  ctime: string;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  inode?: number;
  device_id?: number;
  size?: number;
  links?: number;
  linktarget?: string;
  device?: number;
  content: ID[] | null;
  subtree?: ID;
}

export interface Tree {
  nodes: TreeNode[];
}

// Go's os.FileMode bits.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_DEVICE = 2 ** 26;
const GO_NAMED_PIPE = 2 ** 25;
const GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_CHAR_DEVICE = 2 ** 21;
const GO_STICKY = 2 ** 20;
const GO_IRREGULAR = 2 ** 19;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const S_IFREG = 0o100000;

export function nodeTypeFromStMode(stMode: number): NodeType {
  switch (stMode & S_IFMT) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFBLK: return 'dev';
    case S_IFCHR: return 'chardev';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    default: return 'irregular';
  }
}

/** POSIX st_mode → Go FileMode, as Go's os.Lstat computes it. */
export function goModeFromStMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & S_IFMT) {
    case S_IFDIR: m += GO_DIR; break;
    case S_IFLNK: m += GO_SYMLINK; break;
    case S_IFBLK: m += GO_DEVICE; break;
    case S_IFCHR: m += GO_DEVICE + GO_CHAR_DEVICE; break;
    case S_IFIFO: m += GO_NAMED_PIPE; break;
    case S_IFSOCK: m += GO_SOCKET; break;
    case S_IFREG: break;
    default: m += GO_IRREGULAR;
  }
  if (stMode & 0o4000) m += GO_SETUID;
  if (stMode & 0o2000) m += GO_SETGID;
  if (stMode & 0o1000) m += GO_STICKY;
  return m;
}

/** Go FileMode → the permission bits chmod takes (including setuid/setgid/sticky). */
export function chmodBitsFromGoMode(goMode: number): number {
  let m = goMode & 0o777;
  // Bit tests with division: the Go bits sit above 2^31, beyond JS's 32-bit bitwise operators.
  const bit = (b: number): boolean => Math.floor(goMode / b) % 2 === 1;
  if (bit(GO_SETUID)) m |= 0o4000;
  if (bit(GO_SETGID)) m |= 0o2000;
  if (bit(GO_STICKY)) m |= 0o1000;
  return m;
}

const UNSAFE_NAME = /[/\0]/;

/** A name that is one path component: never empty, `.`, `..`, nor containing `/` or NUL. */
export function isSafeName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !UNSAFE_NAME.test(name);
}

/** Sorted by the UTF-8 bytes of the name, as Go sorts strings, so trees hash the same everywhere. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** restic terminates tree JSON with a newline; the blob id is the hash of these exact bytes. */
export function encodeTree(nodes: TreeNode[]): Buffer {
  const quoted = nodes.map((n) => ({ ...n, name: goQuote(n.name) }));
  return Buffer.from(JSON.stringify({ nodes: quoted }) + '\n');
}

export function decodeTree(plain: Buffer, id: ID): Tree {
  let t: unknown;
  try {
    t = JSON.parse(plain.toString('utf8'));
  } catch {
    throw new IntegrityError(`tree ${id}: invalid JSON`);
  }
  const nodes = (t as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) throw new IntegrityError(`tree ${id}: no node list`);
  for (const n of nodes as TreeNode[]) {
    if (typeof n?.name !== 'string') throw new IntegrityError(`tree ${id}: node without a name`);
    try {
      n.name = goUnquote(n.name);
    } catch (err) {
      throw new IntegrityError(`tree ${id}: node name ${JSON.stringify(n.name)}: ${(err as Error).message}`);
    }
  }
  return { nodes: nodes as TreeNode[] };
}
