/**
 * A partial backup's items (query_args) are paths inside their part, resolved one component at a
 * time without following symbolic links: the operating system would follow a link in a middle
 * component (`elink/secret.txt` with `elink -> /etc`), carrying the backup outside the part. An item
 * that is itself a link is fine: the engine records it as a link and never follows it.
 */
import { type Backup, type Instance } from '../catalog/index.js';
import { PathEscapeError, resolveBeneath } from '../repo/index.js';
import { invalid } from './errors.js';
import { partsOf } from './parts.js';

/** Throws `invalid` (field `query_args.<part>`) for the first item that leaves its part or runs through a link. */
export async function checkPartialItems(instance: Instance, b: Pick<Backup, 'scope' | 'queryArgs'>): Promise<void> {
  if (b.scope !== 'partial' || !b.queryArgs) return;
  for (const part of partsOf(instance.parts)) {
    for (const item of b.queryArgs[part.name] ?? []) {
      try {
        await resolveBeneath(part.path, item);
      } catch (err) {
        if (err instanceof PathEscapeError) throw invalid(`query_args.${part.name}`, `${JSON.stringify(item)} cannot be backed up: ${err.message}`);
        throw err;
      }
    }
  }
}
