/** The native API: one plugin per route group, each under its prefix (STYLE F1). */
import type { RoutesPlugin } from '../type-provider.js';
import { auditRoutes } from './audit.js';
import { backupFileRoutes } from './backup-files.js';
import { backupRoutes } from './backups.js';
import { instanceRoutes } from './instances.js';
import { jobRoutes } from './jobs.js';
import { deliveryRoutes, notificationRoutes } from './notifications.js';
import { repositoryRoutes } from './repositories.js';
import { restoreRoutes } from './restores.js';
import { scheduleRoutes } from './schedules.js';
import { systemRoutes } from './system.js';
import { userRoutes } from './users.js';
import { closeJsonBodies } from '../validation.js';

export const nativeApi: RoutesPlugin = async (app) => {
  // A field the native API does not know is a 400 naming it, on every route below.
  app.addHook('onRoute', closeJsonBodies);
  // Static segments (/list, /create, /schedule, /restore) win over /{backup_id} in the router, whatever the order.
  await app.register(backupRoutes, { prefix: '/api/v1/backup' });
  await app.register(backupFileRoutes, { prefix: '/api/v1/backup' });
  await app.register(restoreRoutes, { prefix: '/api/v1/backup/restore' });
  await app.register(scheduleRoutes, { prefix: '/api/v1/backup/schedule' });
  await app.register(instanceRoutes, { prefix: '/api/v1/instances' });
  await app.register(userRoutes, { prefix: '/api/v1/users' });
  await app.register(repositoryRoutes, { prefix: '/api/v1/repositories' });
  await app.register(jobRoutes, { prefix: '/api/v1/jobs' });
  await app.register(auditRoutes, { prefix: '/api/v1/audit' });
  await app.register(notificationRoutes, { prefix: '/api/v1/notifications' });
  await app.register(deliveryRoutes, { prefix: '/api/v1/notification-deliveries' });
  await app.register(systemRoutes);
};
