import pg from 'pg';
import { DataSource } from 'typeorm';

/**
 * TypeORM's Postgres driver, given rather than looked up. Left to itself, every new DataSource
 * requires `pg` and tries to require `pg-native`, and a require that fails is not cached: Node walks
 * node_modules on disk again each time, about 0.6 ms of a tenant pool's 0.7 ms DataSource
 * constructor. The native driver is never used.
 */
export const PG_DRIVER = { driver: withGuardedPool(pg), nativeDriver: false } as const;

/**
 * `pg` with a Pool whose every client has an `error` listener from the moment it connects.
 *
 * pg-pool listens for a client's errors only while the client is idle in the pool; TypeORM adds
 * none to a client it has checked out. A leased connection that the server ends between two
 * queries (a restart: `57P01 terminating connection due to administrator command`, or
 * `pg_terminate_backend`) makes its client emit `error` with no listener, which Node turns into an
 * uncaught exception that ends the process. With the listener, the error is dropped here and shows
 * where it belongs: the unit of work's next query fails (a database fault, 503), and pg-pool
 * discards the broken client when it is released.
 *
 * The returned object inherits from `pg` (lazy getters such as `native` stay lazy) and replaces only
 * `Pool`.
 */
function withGuardedPool(driver: typeof pg): typeof pg {
  class GuardedPool extends driver.Pool {
    constructor(config?: pg.PoolConfig) {
      super(config);
      this.on('connect', (client) => client.on('error', ignoreLeasedClientError));
    }
  }
  return Object.assign(Object.create(driver) as typeof pg, { Pool: GuardedPool });
}

/** See withGuardedPool: the failure is reported by the query that meets the broken connection. */
function ignoreLeasedClientError(): void {}

export interface RuntimePoolOptions {
  max: number;
  idleTimeoutMillis: number;
  /** A connection is closed once this old, in seconds. */
  maxLifetimeSeconds: number;
  /**
   * A connection is closed after serving this many checkouts (units of work); default no limit. A
   * backend caches the catalog entries of every table it has touched (about 80 KB per tenant schema
   * of the reference app): under the schema model a connection would end up caching every
   * tenant's tables, and age alone does not bound that at a high rate of requests. Recycling by use
   * keeps the cache of each connection flat however many tenants the pool serves.
   */
  maxUses?: number;
  /** Opening a connection, or waiting for a free one of a full pool, fails after this long (ms). */
  acquireMillis: number;
  /** A query with no answer at all fails after this long (ms): a frozen or cut-off server. */
  queryTimeoutMillis: number;
}

/** A TypeORM DataSource signed in as the runtime role; it never synchronizes or migrates. */
export function createRuntimeDataSource(url: string, entities: Function[], pool: RuntimePoolOptions, applicationName: string): DataSource {
  return new DataSource({
    type: 'postgres',
    ...PG_DRIVER,
    url,
    entities,
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    applicationName,
    extra: {
      max: pool.max,
      idleTimeoutMillis: pool.idleTimeoutMillis,
      maxLifetimeSeconds: pool.maxLifetimeSeconds,
      maxUses: pool.maxUses,
      connectionTimeoutMillis: pool.acquireMillis,
      query_timeout: pool.queryTimeoutMillis,
    },
  });
}

/** A DataSource handed out for one unit of work; `release` lets the registry evict it later. */
export interface DataSourceLease {
  readonly dataSource: DataSource;
  /**
   * Waits for the right to hold one connection of the DataSource (the server's connection budget)
   * and resolves with the function that gives it back. Absent: no budget applies.
   * @throws TenantPoolExhaustedError when no connection frees up within the acquire timeout.
   */
  admit?(): Promise<() => void>;
  release(): void;
}
