/**
 * Riverbed npm.backup 1.0 (docs/dialects.md) at /api/npm.backup/1.0: a thin adapter over core, with the
 * Riverbed's documented shapes, words and errors. It acts on the built-in instance `device` (its parts are set
 * through the native instances API; its backups always hold Coffer's own configuration too).
 */
import type { RoutesPlugin } from '../../type-provider.js';
import { riverbedBackupRoutes } from './backups.js';
import { riverbedErrorHandler, riverbedNotFound } from './errors.js';
import { riverbedRestoreRoutes } from './restores.js';
import { riverbedUploadRoutes } from './upload.js';

/**
 * Bodies here stay open (a field Coffer does not know is ignored, unlike the native API): the
 * clients are Riverbed's own, which may send fields of their product that Coffer has no use for,
 * and nothing in the npm.backup interface says the server refuses them.
 */
export const riverbedApi: RoutesPlugin = async (app) => {
  app.setErrorHandler(riverbedErrorHandler);
  app.setNotFoundHandler(riverbedNotFound);
  await app.register(riverbedBackupRoutes);
  await app.register(riverbedUploadRoutes);
  await app.register(riverbedRestoreRoutes);
};
