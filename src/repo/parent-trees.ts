/**
 * Lazy access to the parent snapshot's trees during a backup, so unchanged files are recognised
 * without reading them. Only the directories the walk visits are loaded.
 */
import type { ID } from './ids.js';
import { type TreeNode, decodeTree } from './node.js';
import type { Repository } from './repository.js';

export class ParentDir {
  private readonly byName = new Map<string, TreeNode>();

  constructor(private readonly trees: ParentTrees, nodes: TreeNode[]) {
    for (const n of nodes) this.byName.set(n.name, n);
  }

  node(name: string): TreeNode | undefined {
    return this.byName.get(name);
  }

  async subdir(name: string): Promise<ParentDir | undefined> {
    const n = this.byName.get(name);
    if (n?.type !== 'dir' || !n.subtree) return undefined;
    return this.trees.load(n.subtree);
  }
}

export class ParentTrees {
  constructor(private readonly repo: Repository, private readonly rootId: ID | undefined) {}

  async root(): Promise<ParentDir | undefined> {
    return this.rootId ? this.load(this.rootId) : undefined;
  }

  async load(id: ID): Promise<ParentDir | undefined> {
    try {
      const tree = decodeTree(await this.repo.loadBlob('tree', id), id);
      return new ParentDir(this, tree.nodes);
    } catch {
      // A missing or damaged parent tree only costs re-reading the files below it.
      return undefined;
    }
  }
}
