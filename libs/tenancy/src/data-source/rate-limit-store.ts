import { Logger, type Provider } from '@nestjs/common';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';

/** The injection token of the store that counts each tenant's requests against its tier's `rate`. */
export const TENANCY_RATE_STORE = Symbol('TENANCY_RATE_STORE');

/** How long one Redis command of the rate count may take before the request is admitted without it. */
const REDIS_COMMAND_MILLIS = 1_000;
/** A Redis connection error is logged at most once in this long, in milliseconds. */
const REDIS_WARNING_MILLIS = 10_000;

/**
 * The provider of `TENANCY_RATE_STORE`, from `rateLimitStore` (see `RateLimitStoreOptions`): the
 * app's `storage`, else a Redis store at `redisUrl`, else this process's memory. The store's
 * shutdown hooks run with the app's (the memory store's sweep timer, the Redis connection).
 * @throws TenancyConfigError (at start) when `redisUrl` is not a redis URL, or when it is set and
 * `@nest-lab/throttler-storage-redis` or `ioredis` is not installed.
 */
export const rateLimitStoreProvider: Provider = {
  provide: TENANCY_RATE_STORE,
  inject: [TENANCY_OPTIONS],
  useFactory: async (options: ResolvedTenancyOptions): Promise<ThrottlerStorage> => {
    const { storage, redisUrl } = options.rateLimitStore;
    if (storage) return storage;
    if (!redisUrl) return new ThrottlerStorageService();
    if (!/^rediss?:\/\//.test(redisUrl)) {
      throw new TenancyConfigError('TenancyModule', ['rateLimitStore.redisUrl: expected a redis:// or rediss:// URL']);
    }
    const redisStore = await import('@nest-lab/throttler-storage-redis').catch(() => undefined);
    if (!redisStore) {
      throw new TenancyConfigError('TenancyModule', [
        'rateLimitStore.redisUrl: install @nest-lab/throttler-storage-redis and ioredis to count tenant rates in Redis',
      ]);
    }
    // A Redis that is away must cost a request at most REDIS_COMMAND_MILLIS, never a hang.
    const store = new redisStore.ThrottlerStorageRedisService(redisUrl, {
      maxRetriesPerRequest: 1,
      commandTimeout: REDIS_COMMAND_MILLIS,
      enableAutoPipelining: true,
    });
    // ioredis prints an unhandled connection error with its stack: one line now and then instead.
    const logger = new Logger('RateLimitStore');
    let warnedAt = -Infinity;
    store.redis.on('error', (err: Error) => {
      if (Date.now() - warnedAt < REDIS_WARNING_MILLIS) return;
      warnedAt = Date.now();
      logger.warn(`Redis of the tenant rate limits unreachable (${err.message}): retrying; requests are admitted uncounted meanwhile.`);
    });
    return store;
  },
};
