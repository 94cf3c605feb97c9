/**
 * Directory entries named `dir\`, which Eclipse Kanto's unzipper needs (research/KANTO.md 3.3:
 * it makes a directory only for names ending in a backslash and never creates parents).
 *
 * yazl rewrites every `\` in a name to `/` before it builds the entry, and offers no way around
 * it. So the entry is added as `dir/` and renamed to `dir\` as yazl files it in its entry list,
 * before its header is written. Both names have the same length, so the planned size holds. The
 * rename reaches into yazl's internals (`entries`, `utf8FileName`), checked at every use: a yazl
 * that no longer has them makes this throw instead of writing `dir/` silently.
 */
import type { DirectoryOptions, ZipFile } from 'yazl';

interface InternalEntry {
  utf8FileName?: unknown;
}

export function addBackslashDirectory(zip: ZipFile, name: string, options: Partial<DirectoryOptions>): void {
  if (!name.endsWith('\\') || name.slice(0, -1).includes('\\')) throw new Error(`not a backslash directory name: ${JSON.stringify(name)}`);
  const entries: unknown = (zip as unknown as { entries?: unknown }).entries;
  if (!Array.isArray(entries)) throw new Error('yazl internals changed: cannot name a directory entry with a backslash');
  const list: InternalEntry[] = entries;
  const asAdded = Buffer.from(name.slice(0, -1) + '/');
  const wanted = Buffer.from(name);
  let renamed = false;
  // An own `push` on this one array, removed again below; yazl calls it once, synchronously.
  list.push = function push(this: InternalEntry[], ...items: InternalEntry[]): number {
    for (const item of items) {
      if (Buffer.isBuffer(item.utf8FileName) && item.utf8FileName.equals(asAdded)) {
        item.utf8FileName = wanted;
        renamed = true;
      }
    }
    return Array.prototype.push.apply(this, items);
  };
  try {
    zip.addEmptyDirectory(name.slice(0, -1) + '/', options);
  } finally {
    delete (list as { push?: unknown }).push;
  }
  if (!renamed) throw new Error('yazl internals changed: cannot name a directory entry with a backslash');
}
