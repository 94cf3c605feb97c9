/**
 * Signed archive links: the token in a URL that downloads one backup's file without an API key
 * (Syncano's partial-backup `archive`, "downloaded by any user that knows the url"). A token is
 * `<backup id>.<expiry, epoch seconds>.<HMAC>`, the HMAC keyed by the server secret over the id,
 * the expiry and the backup's snapshot id. So a token cannot be guessed or altered, ends at its
 * expiry, and dies with its backup: a deleted backup has no record, and a later backup that got
 * the same id (a catalog reset) has another snapshot. Nothing is stored per token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Backup, Catalog } from '../catalog/index.js';
import { CoreError } from './errors.js';
import { type Actor, allowed } from './permissions.js';
import type { ServerSecret } from './secrets.js';

/** How long a link stays valid by default: a day (every read of the backup hands out a fresh one). */
export const ARCHIVE_LINK_TTL_SECONDS = 24 * 60 * 60;

const TOKEN_RE = /^([1-9][0-9]{0,9})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

export interface ArchiveLink {
  token: string;
  /** ISO time after which the token is refused. */
  expiresAt: string;
}

export class ArchiveLinks {
  constructor(private readonly secret: ServerSecret, private readonly catalog: Catalog, private readonly ttlSeconds = ARCHIVE_LINK_TTL_SECONDS) {}

  /**
   * A token for a successful backup, or null while it has no file to download (not yet
   * successful) or when `actor` may not download backups (a link is a download, handed on).
   */
  issue(actor: Actor, b: Pick<Backup, 'id' | 'status' | 'snapshotId'>, o: { now?: number; ttlSeconds?: number } = {}): ArchiveLink | null {
    if (!allowed(actor, 'backup.download') || b.status !== 'success' || !b.snapshotId) return null;
    const expires = Math.floor((o.now ?? Date.now()) / 1000) + (o.ttlSeconds ?? this.ttlSeconds);
    return { token: `${b.id}.${expires}.${this.sign(b.id, expires, b.snapshotId)}`, expiresAt: new Date(expires * 1000).toISOString() };
  }

  /**
   * The id of the backup a token opens. Every refusal is the same `not_found`, so that a holder
   * of a token learns nothing about why (forged, altered, expired, deleted or not downloadable).
   */
  async verify(token: string, now = Date.now()): Promise<number> {
    const refused = new CoreError('not_found', 'this archive link is not valid (expired, altered, or its backup was deleted)');
    const m = TOKEN_RE.exec(token);
    if (!m) throw refused;
    const id = Number(m[1]);
    const expires = Number(m[2]);
    if (id > 2_147_483_647 || expires * 1000 <= now) throw refused;
    const b = await this.catalog.backups.get(id);
    if (!b || b.status !== 'success' || !b.snapshotId) throw refused;
    const expected = Buffer.from(this.sign(id, expires, b.snapshotId));
    const given = Buffer.from(m[3]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused;
    return id;
  }

  private sign(id: number, expires: number, snapshotId: string): string {
    return this.secret.mac(`coffer archive link v1\n${id}\n${expires}\n${snapshotId}`);
  }
}
