/**
 * Lazy access to the parent snapshot's trees during a backup, so unchanged files are recognised
 * without reading them. Only the directories the walk visits are loaded.
 */
import type { ID } from './ids.js';
import { type TreeNode, decodeTree } from './node.js';
import type { Repository } from './repository.js';

export class ParentDir {
  private readonly byName = new Map<string, TreeNode>();
  private subdirs: Map<string, Promise<ParentDir | undefined>> | undefined;

  constructor(private readonly trees: ParentTrees, nodes: TreeNode[]) {
    for (const n of nodes) this.byName.set(n.name, n);
  }

  node(name: string): TreeNode | undefined {
    return this.byName.get(name);
  }

  /**
   * The parent tree of a subdirectory. The first call starts loading all sibling subtrees at once:
   * the walk will visit them next, and one round trip per directory would otherwise dominate a
   * no-change backup. Only one level is fetched ahead, so memory stays bounded by directory width.
   */
  subdir(name: string): Promise<ParentDir | undefined> {
    if (!this.subdirs) {
      this.subdirs = new Map();
      for (const [childName, n] of this.byName) {
        if (n.type === 'dir' && n.subtree) {
          const loading = this.trees.load(n.subtree);
          loading.catch(() => undefined);
          this.subdirs.set(childName, loading);
        }
      }
    }
    const p = this.subdirs.get(name);
    this.subdirs.delete(name);
    return p ?? Promise.resolve(undefined);
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
