/**
 * The product dialects: each at its own paths with its own shapes, status words and error bodies,
 * as thin adapters over the same core as the native API (no business rule lives here). Each is
 * an encapsulated plugin, so its error handler and not-found reply apply to its routes only.
 */
import type { RoutesPlugin } from '../type-provider.js';
import { configurationBackupApi } from './configuration/index.js';
import { riverbedApi } from './riverbed/index.js';
import { syncanoApi } from './syncano/index.js';

export const dialects: RoutesPlugin = async (app) => {
  await app.register(riverbedApi, { prefix: '/api/npm.backup/1.0' });
  await app.register(syncanoApi, { prefix: '/v1' });
  await app.register(configurationBackupApi, { prefix: '/api/v1/configuration/backup' });
};
