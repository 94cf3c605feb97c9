/**
 * Backs up a byte stream (stdin, a database dump) as one file in a snapshot, as restic's
 * `--stdin --stdin-filename NAME` does: the snapshot's path is `/NAME`.
 */
import { hostname } from 'node:os';
import { chunkStream, Chunker } from './chunker.js';
import { hashId, type ID } from './ids.js';
import { safeUsername } from './keys.js';
import { compareNames, encodeTree, isSafeName, type TreeNode } from './node.js';
import type { Repository } from './repository.js';
import type { Snapshot, SnapshotJSON, SnapshotSummary } from './snapshot.js';
import { formatTime } from './time.js';
import { VERSION } from './version.js';

export interface StreamBackupOptions {
  filename: string;
  host?: string;
  tags?: string[];
  parent?: Snapshot;
  time?: Date;
  onProgress?: (bytes: number) => void;
}

const GO_MODE_0644 = 0o644;

export async function backupStream(repo: Repository, stream: AsyncIterable<Uint8Array>, opts: StreamBackupOptions): Promise<{ snapshotId: ID; snapshot: SnapshotJSON; summary: SnapshotSummary }> {
  if (!isSafeName(opts.filename)) throw new Error(`invalid --stdin-filename ${JSON.stringify(opts.filename)}`);
  const start = new Date();
  const saver = repo.blobSaver();
  const chunker = new Chunker(repo.config.chunker_polynomial);
  const content: ID[] = [];
  let size = 0;
  let dataBlobs = 0;
  let added = 0;
  let packed = 0;
  for await (const chunk of chunkStream(stream, chunker)) {
    const id = hashId(chunk);
    const r = await saver.save('data', chunk, id);
    if (r.stored) {
      dataBlobs++;
      added += chunk.length;
      packed += r.packedBytes;
    }
    content.push(id);
    size += chunk.length;
    opts.onProgress?.(size);
  }
  const now = formatTime(new Date());
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const node: TreeNode = { name: opts.filename, type: 'file', mode: GO_MODE_0644, mtime: now, atime: now, ctime: now, uid, gid, size, content } as TreeNode;
  const nodes = [node].sort((a, b) => compareNames(a.name, b.name));
  const plain = encodeTree(nodes);
  const tree = hashId(plain);
  const tr = await saver.save('tree', plain, tree);
  await repo.flush();
  const summary: SnapshotSummary = {
    backup_start: formatTime(start), backup_end: formatTime(new Date()),
    files_new: 1, files_changed: 0, files_unmodified: 0, dirs_new: 0, dirs_changed: 0, dirs_unmodified: 0,
    data_blobs: dataBlobs, tree_blobs: tr.stored ? 1 : 0, data_added: added + (tr.stored ? plain.length : 0),
    data_added_packed: packed + tr.packedBytes, total_files_processed: 1, total_bytes_processed: size,
  };
  const snapshot: SnapshotJSON = {
    time: formatTime(opts.time ?? start),
    ...(opts.parent ? { parent: opts.parent.id } : {}),
    tree,
    paths: [`/${opts.filename}`],
    hostname: opts.host ?? hostname(),
    username: safeUsername(),
    uid,
    gid,
    ...(opts.tags && opts.tags.length > 0 ? { tags: opts.tags } : {}),
    program_version: `coffer ${VERSION}`,
    summary,
  };
  return { snapshotId: await repo.saveSnapshot(snapshot), snapshot, summary };
}
