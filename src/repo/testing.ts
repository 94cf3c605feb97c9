/** Test utilities for the repository layer (imported by tests only). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalBackend, MemoryBackend } from '../storage/index.js';
import { hashId, type ID } from './ids.js';
import { TEST_KDF } from './keys.js';
import { type TreeNode, encodeTree } from './node.js';
import { Repository } from './repository.js';
import { formatTime } from './time.js';

export const TEST_PASSWORD = 'test password';

/** A fresh repository in memory, with cheap key derivation. */
export async function memRepo(): Promise<Repository> {
  return Repository.init(new MemoryBackend(), TEST_PASSWORD, { kdf: TEST_KDF });
}

export function tempDir(prefix = 'coffer-unit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fresh repository in a temp directory, with cheap key derivation. */
export async function localRepo(dir = tempDir()): Promise<Repository> {
  return Repository.init(new LocalBackend(path.join(dir, 'repo')), TEST_PASSWORD, { kdf: TEST_KDF });
}

const EPOCH = formatTime(new Date(0));

/** Builds a node with defaults, for hand-made (possibly hostile) trees. */
export function testNode(fields: Partial<TreeNode> & Pick<TreeNode, 'name' | 'type'>): TreeNode {
  return { mode: fields.type === 'dir' ? 2 ** 31 + 0o755 : 0o644, mtime: EPOCH, atime: EPOCH, ctime: EPOCH, uid: 0, gid: 0, content: null, ...fields };
}

/** Stores a data blob and returns its id. */
export async function putData(repo: Repository, data: Buffer): Promise<ID> {
  const id = hashId(data);
  await repo.blobSaver().save('data', data, id);
  return id;
}

/** Stores a tree exactly as given (no sorting, no checks) and returns its id. */
export async function putTree(repo: Repository, nodes: TreeNode[]): Promise<ID> {
  const plain = encodeTree(nodes);
  const id = hashId(plain);
  await repo.blobSaver().save('tree', plain, id);
  return id;
}

/** Stores raw bytes as a tree blob: for trees no encoder would produce. */
export async function putRawTree(repo: Repository, json: string): Promise<ID> {
  const plain = Buffer.from(json);
  const id = hashId(plain);
  await repo.blobSaver().save('tree', plain, id);
  return id;
}

/** Flushes and saves a snapshot of `tree`; returns the loaded snapshot. */
export async function putSnapshot(repo: Repository, tree: ID) {
  await repo.flush();
  const id = await repo.saveSnapshot({ time: formatTime(new Date()), tree, paths: ['/x'], hostname: 'test' });
  return repo.loadSnapshot(id);
}
