/**
 * Path rules for backup files, shared by export and import: what a safe entry name is, and
 * whether a symlink stays inside the tree it is extracted into.
 */

/** Linux's PATH_MAX is 4096 including the target directory; leave room for it. */
const MAX_PATH_BYTES = 3072;
/** NAME_MAX on every common Linux file system. */
const MAX_NAME_BYTES = 255;
/** Linux's own limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Why a relative, `/`-separated path is unsafe to create under a target directory, or undefined
 * when it is safe. Stricter than yauzl's own check on purpose: backslashes are refused rather
 * than rewritten, so what the manifest names is exactly what lands on disk.
 */
export function unsafePathReason(p: string): string | undefined {
  if (p === '') return 'empty name';
  if (p.includes('\0')) return 'NUL byte in name';
  if (p.includes('\\')) return 'backslash in name';
  if (p.startsWith('/')) return 'absolute path';
  // `C:x` is harmless on Linux but absolute on Windows, where a user may unzip the file.
  if (/^[a-zA-Z]:/.test(p)) return 'drive letter';
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) return `path longer than ${MAX_PATH_BYTES} bytes`;
  for (const c of p.split('/')) {
    if (c === '') return 'empty path component';
    if (c === '.' || c === '..') return `"${c}" path component`;
    if (Buffer.byteLength(c) > MAX_NAME_BYTES) return `name longer than ${MAX_NAME_BYTES} bytes`;
  }
  return undefined;
}

/** The parent of a relative path, or '' for a top-level one. */
export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** Every proper ancestor of a relative path, nearest the root first: `a/b/c` → `a`, `a/b`. */
export function ancestorsOf(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

/**
 * Why the symlink at `linkPath` (relative to the extraction root) pointing to `target` would lead
 * outside that root, or undefined when it stays inside. The target is resolved component by
 * component the way the kernel would, expanding the other symlinks of the same archive (`links`:
 * path → target) on the way: a textual check alone misses `d/up -> ..` followed by
 * `x -> d/up/../outside`. Components that are not symlinks count as directories.
 */
export function symlinkEscapeReason(linkPath: string, target: string, links: ReadonlyMap<string, string>): string | undefined {
  if (target === '') return 'empty symlink target';
  if (target.includes('\0')) return 'NUL byte in symlink target';
  if (target.startsWith('/')) return `absolute symlink target ${JSON.stringify(target)}`;
  const where: string[] = linkPath.split('/').slice(0, -1);
  const pending: string[] = target.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (where.length === 0) return `symlink target ${JSON.stringify(target)} climbs above the root`;
      where.pop();
      continue;
    }
    const next = [...where, c].join('/');
    const via = links.get(next);
    if (via === undefined) {
      where.push(c);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return `symlink ${JSON.stringify(linkPath)} loops`;
    if (via.startsWith('/')) return `symlink target ${JSON.stringify(target)} leads through an absolute symlink`;
    // The kernel continues from the directory holding `next` with the link's own target.
    pending.unshift(...via.split('/'));
  }
  return undefined;
}

/**
 * Why a symlink of `files` leads outside the subtree it lies in, or undefined. `roots` are
 * directories (relative, as in `files`) such as the parts of a backup: a link below a root must
 * resolve inside the deepest root holding it, so a restored part never holds a link into another
 * part or out of the tree (`www/l -> ../../etc` stays inside the file, but not inside `www`). A
 * root that is itself a symlink leads outside itself by definition. Links below no root are not checked.
 */
export function symlinkOutsideRootReason(files: readonly { path: string; type: string; target?: string }[], roots: readonly string[]): string | undefined {
  const deepestFirst = [...roots].sort((a, b) => b.length - a.length);
  // Each root's links, by their path relative to it: a link resolves through the others of its root.
  const byRoot = new Map<string, Map<string, string>>();
  for (const l of files) {
    if (l.type !== 'symlink') continue;
    if (roots.includes(l.path)) return `symlink ${JSON.stringify(l.path)} is a part of its own: it leads outside its part`;
    const root = deepestFirst.find((r) => l.path.startsWith(`${r}/`));
    if (root === undefined) continue;
    if (!byRoot.has(root)) byRoot.set(root, new Map());
    byRoot.get(root)!.set(l.path.slice(root.length + 1), l.target!);
  }
  for (const [root, links] of byRoot) {
    for (const [rel, target] of links) {
      const why = symlinkEscapeReason(rel, target, links);
      if (why) return `symlink ${JSON.stringify(`${root}/${rel}`)} leads outside its part ${JSON.stringify(root)}: ${why}`;
    }
  }
  return undefined;
}
