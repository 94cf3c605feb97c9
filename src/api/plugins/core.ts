/** Shares the Core with every route plugin as `app.core` (STYLE F4: a named plugin, set once). */
import fp from 'fastify-plugin';
import type { Core } from '../../core/index.js';

export const corePlugin = fp<{ core: Core; sseHeartbeatMs: number }>(async (app, opts) => {
  app.decorate('core', opts.core);
  app.decorate('sseHeartbeatMs', opts.sseHeartbeatMs);
}, { name: 'coffer-core', fastify: '5.x' });
