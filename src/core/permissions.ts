/**
 * Who may do what: botserver's permission table (create/list backups: admin or backup_operator;
 * restore, delete, schedules: admin) plus `viewer`, which reads and never changes anything.
 */
import type { Role } from '../catalog/index.js';
import { CoreError } from './errors.js';

const ALL: readonly Role[] = ['admin', 'backup_operator', 'viewer'];
const OPERATORS: readonly Role[] = ['admin', 'backup_operator'];
const ADMIN: readonly Role[] = ['admin'];

export const PERMISSIONS = {
  'backup.create': OPERATORS,
  'backup.read': ALL,
  /** The backed-up content itself (a backup file, an archive link): viewers see that backups exist, not what they hold. */
  'backup.download': OPERATORS,
  'backup.delete': ADMIN,
  'restore.create': ADMIN,
  'restore.read': ALL,
  'schedule.read': ALL,
  'schedule.write': ADMIN,
  'instance.read': ALL,
  'instance.write': ADMIN,
  'repository.read': ADMIN,
  'repository.write': ADMIN,
  /** A repository's password: whoever holds it reads every backup in it with restic, around Coffer. */
  'repository.password': ADMIN,
  'user.read': ADMIN,
  'user.write': ADMIN,
  'job.read': ALL,
  'job.cancel': OPERATORS,
  'audit.read': ADMIN,
  'config.manage': ADMIN,
  /** Notification channels and their deliveries: where failures are reported is an admin's matter (and their URLs are credentials). */
  'notification.read': ADMIN,
  'notification.write': ADMIN,
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

/** Who is asking: a signed-in user, or the server itself (schedules, start-up recovery). */
export interface Actor {
  name: string;
  role: Role;
  ip?: string | undefined;
  /**
   * Coffer acting on its own (the scheduler, the MQTT device), not a user's account: the quota of
   * backups per account does not apply (a schedule or a device backing up every hour would hit it
   * within a day); the quota per instance still does.
   */
  service?: boolean;
}

export const SYSTEM_ACTOR: Actor = { name: 'system', role: 'admin', service: true };

/**
 * Someone at the server's own machine who can read its data directory (the `coffer admin`
 * commands): they hold the catalog and the secret already, so they act as an admin; the audit
 * log names them by their operating-system account.
 */
export function localAdminActor(osUser: string): Actor {
  return { name: `cli:${osUser || 'unknown'}`, role: 'admin' };
}

export function allowed(actor: Actor, p: Permission): boolean {
  return (PERMISSIONS[p] as readonly Role[]).includes(actor.role);
}

export function requirePermission(actor: Actor, p: Permission): void {
  if (!allowed(actor, p)) throw new CoreError('forbidden', `role ${actor.role} may not ${p.replace('.', ' ')} (needs ${PERMISSIONS[p].join(' or ')})`);
}
