/**
 * A TypeBox type provider for Fastify (STYLE F3): a route's TypeBox schemas give its handler the
 * static types of body, query, params and of every reply. The same few lines as
 * @fastify/type-provider-typebox, without a dependency for them.
 */
import type { FastifyPluginAsync, FastifyTypeProvider, RawServerDefault } from 'fastify';
import type { Static, TSchema } from 'typebox';

export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

/** A route-group plugin whose routes are typed from their TypeBox schemas. */
export type RoutesPlugin<Options extends Record<string, unknown> = Record<never, never>> = FastifyPluginAsync<Options, RawServerDefault, TypeBoxProvider>;
