/** Visits every tree reachable from a set of roots once, collecting the blobs they use. */
import { CancelledError } from './errors.js';
import type { ID } from './ids.js';
import { decodeTree } from './node.js';
import type { Repository } from './repository.js';

export interface UsedBlobs {
  data: Set<ID>;
  tree: Set<ID>;
}

export async function findUsedBlobs(repo: Repository, roots: Iterable<ID>, signal?: AbortSignal): Promise<UsedBlobs> {
  const used: UsedBlobs = { data: new Set(), tree: new Set() };
  const queue: ID[] = [];
  for (const r of roots) if (!used.tree.has(r)) {
    used.tree.add(r);
    queue.push(r);
  }
  while (queue.length > 0) {
    if (signal?.aborted) throw new CancelledError('cancelled');
    const id = queue.pop()!;
    const tree = decodeTree(await repo.loadBlob('tree', id), id);
    for (const node of tree.nodes) {
      if (node.type === 'file') for (const c of node.content ?? []) used.data.add(c);
      else if (node.type === 'dir' && node.subtree && !used.tree.has(node.subtree)) {
        used.tree.add(node.subtree);
        queue.push(node.subtree);
      }
    }
  }
  return used;
}
