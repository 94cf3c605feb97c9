/**
 * Syncano's list paging (its StandardPagination): keyset pages over ids. Query parameters
 * `page_size` (0 to 100, default 100), `ordering` (`asc`, the default, or `desc`), and the cursor
 * `direction` (1: after `last_pk`, 0: before it) with `last_pk`. `next` and `prev` are paths that
 * carry page_size and ordering as the client gave them, then the cursor. One difference: Syncano
 * offered a `next` after every full page even when nothing followed; here a page is read one
 * object longer, so `next` is null exactly when nothing follows.
 */
import { CoreError } from '../../../core/index.js';

export const MAX_PAGE_SIZE = 100;

export interface PageQuery {
  page_size?: string | undefined;
  ordering?: string | undefined;
  direction?: string | undefined;
  last_pk?: string | undefined;
}

/** What the store is asked for: ids strictly above/below a bound, in an order, at most `limit`. */
export interface KeysetRead {
  idAbove?: number;
  idBelow?: number;
  order: 'asc' | 'desc';
  limit: number;
}

export interface Paged<T> {
  objects: T[];
  prev: string | null;
  next: string | null;
}

const malformed = () => new CoreError('invalid', 'Incorrect page parameter provided.');

function parseCursor(q: PageQuery): { size: number; asc: boolean; direction: 0 | 1 | undefined; lastPk: number | undefined } {
  let size = MAX_PAGE_SIZE;
  if (q.page_size !== undefined) {
    if (!/^\s*[0-9]{1,9}\s*$/.test(q.page_size)) throw malformed();
    size = Math.min(Number(q.page_size), MAX_PAGE_SIZE);
  }
  // An unknown ordering falls back to the default, as Syncano's did.
  const asc = q.ordering?.toLowerCase() !== 'desc';
  let direction: 0 | 1 | undefined;
  if (q.direction !== undefined) {
    if (q.direction !== '0' && q.direction !== '1') throw malformed();
    direction = q.direction === '1' ? 1 : 0;
  }
  let lastPk: number | undefined;
  if (q.last_pk !== undefined) {
    if (!/^[0-9]{1,10}$/.test(q.last_pk) || Number(q.last_pk) > 2_147_483_647) throw malformed();
    lastPk = Number(q.last_pk);
  }
  return { size, asc, direction, lastPk };
}

/**
 * One page: `read` fetches from the store, `path` is the request's path (without its query) that
 * the `next`/`prev` links point at.
 */
export async function keysetPage<T extends { id: number }, V>(q: PageQuery, path: string, read: (r: KeysetRead) => Promise<T[]>, view: (item: T) => V): Promise<Paged<V>> {
  const { size, asc, direction, lastPk } = parseCursor(q);
  if (size === 0) return { objects: [], prev: null, next: null };
  const forward = direction !== 0;
  // Towards higher ids: forward in ascending order, backward in descending order.
  const upwards = asc === forward;
  const r: KeysetRead = { order: upwards ? 'asc' : 'desc', limit: size + 1 };
  if (direction !== undefined && lastPk !== undefined) {
    if (upwards) r.idAbove = lastPk;
    else r.idBelow = lastPk;
  }
  const rows = await read(r);
  const hasMore = rows.length > size;
  const page = rows.slice(0, size);
  // A backward page was read from the cursor outwards; it is shown in the list's own order.
  if (!forward) page.reverse();

  const link = (dir: 0 | 1 | undefined, pk: number | undefined): string => {
    const params = new URLSearchParams();
    if (q.page_size !== undefined) params.set('page_size', q.page_size);
    if (q.ordering !== undefined) params.set('ordering', q.ordering);
    if (dir !== undefined) params.set('direction', String(dir));
    if (pk !== undefined) params.set('last_pk', String(pk));
    const s = params.toString();
    return s ? `${path}?${s}` : path;
  };
  const full = page.length === size;
  let next: string | null = null;
  if (forward ? hasMore : full) next = link(1, page[page.length - 1]!.id);
  else if (direction === 0) next = link(undefined, undefined);
  let prev: string | null = null;
  if (direction !== undefined && (forward || hasMore)) {
    if (page.length === 0) prev = direction === 1 ? link(0, undefined) : null;
    else if (full || direction === 1) prev = link(0, page[0]!.id);
  }
  return { objects: page.map(view), prev, next };
}
