/**
 * The one module augmentation of the HTTP adapter (STYLE F4): what the plugins add to Fastify's
 * instance, request and route config, so that every use is typed.
 */
import type { Actor, Core, Permission } from '../core/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The core every route calls (set once by the `coffer-core` plugin). */
    core: Core;
    /** Interval of the comment lines that keep quiet event streams open through proxies. */
    sseHeartbeatMs: number;
  }
  interface FastifyRequest {
    /** Who sent the request; null until the `coffer-auth` hook has run, and on public routes. */
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** No credentials needed (health, OpenAPI document, docs). Every other route requires them. */
    public?: boolean;
    /** The API key may also come as the `api_key` query parameter (Syncano's clients send it so). */
    apiKeyInQuery?: boolean;
    /**
     * Checked as soon as the actor is known, before the body is read: routes whose body may be
     * large (uploads) must not read megabytes for someone who may not send them. Core checks again.
     */
    permission?: Permission;
  }
}
