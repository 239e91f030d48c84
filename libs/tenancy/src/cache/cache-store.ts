import { type Provider } from '@nestjs/common';
import { type Cache, createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';

/** The injection token of the tenant cache's store (`TenantCacheStore`). */
export const TENANCY_CACHE_STORE = Symbol('TENANCY_CACHE_STORE');

/** How often the memory store drops its expired entries, in milliseconds. */
const SWEEP_MILLIS = 60_000;

/**
 * The cache-manager `Cache` under `TenantCache`, and where it keeps its entries:
 * `memory` (this process), `redis` (shared by every instance) or `app` (the app's `manager` or
 * `stores`: shared or not, as the app chose).
 */
export interface TenantCacheStore {
  readonly cache: Cache;
  readonly kind: 'memory' | 'redis' | 'app';
  /** Closes what the module opened (the Redis connection, the sweep timer); the app's own store is left open. */
  close(): Promise<void>;
}

/**
 * The provider of `TENANCY_CACHE_STORE`, from `cache` (see `TenantCacheOptions`): the app's `manager`,
 * else cache-manager over the app's Keyv `stores`, else over a Redis store at `redisUrl`, else over
 * this process's memory. Closed with the app (`onApplicationShutdown`).
 * @throws TenancyConfigError (at start) when `redisUrl` is set and `@keyv/redis` is not installed.
 */
export const tenantCacheStoreProvider: Provider = {
  provide: TENANCY_CACHE_STORE,
  inject: [TENANCY_OPTIONS],
  useFactory: async (options: ResolvedTenancyOptions) => {
    const store = await openStore(options);
    return Object.assign(store, { onApplicationShutdown: () => store.close() });
  },
};

async function openStore(options: ResolvedTenancyOptions): Promise<TenantCacheStore> {
  const { manager, stores, redisUrl, timeoutMillis } = options.cache;
  if (manager) return { cache: manager, kind: 'app', close: async () => undefined };
  if (stores?.length) return { cache: createCache({ stores }), kind: 'app', close: async () => undefined };
  if (redisUrl) {
    const keyv = await redisKeyv(redisUrl, timeoutMillis);
    return { cache: createCache({ stores: [keyv] }), kind: 'redis', close: () => keyv.disconnect() };
  }
  // Keyv over a Map, values kept as given (as cache-manager's own default store does); every entry
  // of the tenant cache has a time to live, and the sweep drops the expired ones nobody reads again
  // (entries of an old generation are never read again).
  const map = new Map<string, { expires?: number } | undefined>();
  const keyv = new Keyv({ store: map, useKeyPrefix: false });
  keyv.serialize = undefined;
  keyv.deserialize = undefined;
  const timer = setInterval(() => sweep(map), SWEEP_MILLIS);
  timer.unref();
  return { cache: createCache({ stores: [keyv] }), kind: 'memory', close: async () => clearInterval(timer) };
}

/** Drops the expired entries of a Keyv memory map (Keyv itself drops one only when it is read). */
export function sweep(map: Map<string, { expires?: number } | undefined>, now = Date.now()): void {
  for (const [key, entry] of map) if (entry?.expires !== undefined && entry.expires <= now) map.delete(key);
}

/**
 * A Keyv on `@keyv/redis` that fails fast while Redis is away (no offline queue: a command is
 * refused at once instead of waiting for the reconnection) and reports failures (`throwOnErrors`),
 * so a failed invalidation is known, not taken for a success.
 */
async function redisKeyv(url: string, timeoutMillis: number): Promise<Keyv> {
  const redis = await import('@keyv/redis').catch(() => undefined);
  if (!redis) throw new TenancyConfigError('TenancyModule', ['cache.redisUrl: install @keyv/redis to keep the tenant cache in Redis']);
  const client = redis.createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: Math.max(timeoutMillis, 1_000), reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000) },
  });
  const store = new redis.default(client, {
    throwOnConnectError: true,
    throwOnErrors: true,
    connectionTimeout: Math.max(timeoutMillis, 1_000),
  });
  const keyv = new Keyv({ store, useKeyPrefix: false, throwOnErrors: true });
  // Keys as TenantCache writes them (`nest-tenancy:...`), with no Keyv namespace before them.
  keyv.namespace = undefined;
  // Failures reach TenantCache as rejections (it logs them once); the events would be said again.
  keyv.on('error', () => undefined);
  client.on('error', () => undefined);
  // Connected now, once: the store would otherwise connect at its first use, and concurrent first
  // uses would each try to. Not awaited: a Redis that is away must not stop the start (commands fail
  // fast, as misses, until the client has connected; it retries by itself).
  client.connect().catch(() => undefined);
  return keyv;
}
