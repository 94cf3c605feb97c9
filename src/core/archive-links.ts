/**
 * Signed archive links: the token in a URL that downloads one backup's file without an API key
 * (Syncano's partial-backup `archive`, "downloaded by any user that knows the url"). A token is
 * `<backup id>.<expiry, epoch seconds>.<issuer>.<HMAC>`, the HMAC keyed by the server secret over
 * the id, the expiry, the issuer and the backup's snapshot id; the issuer is the base64url of the
 * user who was handed the link (`-` for Coffer itself). So a token cannot be guessed or altered,
 * ends at its expiry, dies with its backup (a deleted backup has no record, and a later backup that
 * got the same id has another snapshot), and dies with its issuer's right to download: a link is a
 * download handed on, so it works only while that user exists with a role that may download.
 * Nothing is stored per token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Backup, Catalog } from '../catalog/index.js';
import { CoreError } from './errors.js';
import { type Actor, allowed } from './permissions.js';
import type { ServerSecret } from './secrets.js';

/** How long a link stays valid by default: a day (every read of the backup hands out a fresh one). */
export const ARCHIVE_LINK_TTL_SECONDS = 24 * 60 * 60;

const TOKEN_RE = /^([1-9][0-9]{0,9})\.([0-9]{1,12})\.(-|[A-Za-z0-9_-]{1,88})\.([A-Za-z0-9_-]{43})$/;
/** The issuer of links Coffer hands out itself (no user behind it). */
const SERVICE_ISSUER = '-';

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
    const issuer = actor.service ? SERVICE_ISSUER : Buffer.from(actor.name).toString('base64url');
    return { token: `${b.id}.${expires}.${issuer}.${this.sign(b.id, expires, issuer, b.snapshotId)}`, expiresAt: new Date(expires * 1000).toISOString() };
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
    const issuer = m[3]!;
    const expected = Buffer.from(this.sign(id, expires, issuer, b.snapshotId));
    const given = Buffer.from(m[4]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused;
    if (!(await this.issuerMayDownload(issuer))) throw refused;
    return id;
  }

  /** The user the link was handed to still exists and may still download (a deleted user's or a demoted one's links die). */
  private async issuerMayDownload(issuer: string): Promise<boolean> {
    if (issuer === SERVICE_ISSUER) return true;
    const user = await this.catalog.users.byName(Buffer.from(issuer, 'base64url').toString('utf8'));
    return user !== undefined && allowed({ name: user.name, role: user.role }, 'backup.download');
  }

  private sign(id: number, expires: number, issuer: string, snapshotId: string): string {
    return this.secret.mac(`coffer archive link v2\n${id}\n${expires}\n${issuer}\n${snapshotId}`);
  }
}
