import { createHash } from 'node:crypto';
import type { Type } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Cache } from 'cache-manager';
import type { Keyv } from 'keyv';
import type { MigrationInterface } from 'typeorm';
import { databaseOf } from '../core/connection-url';
import type { ResolverName, TenantSource } from './tenant-source';
import type { KeyProvider } from '../core/key-provider';

/** The three isolation models, by the names used in configuration. */
export { ISOLATION_MODELS, type IsolationModel } from '../core/isolation-model';
import type { IsolationModel } from '../core/isolation-model';

export type { ResolverName };

/**
 * How long a tenant's transaction may spend on the database, set with `set_config(..., true)` at
 * the start of every unit of work (so it holds behind a transaction pooler too). Milliseconds.
 * See PostgreSQL's "Client Connection Defaults" (statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout).
 */
export interface TransactionLimits {
  /** `statement_timeout` of each statement. Default 5,000 ms. */
  statementMillis?: number;
  /** `lock_timeout`: the longest wait for a lock. Default 2,000 ms. */
  lockMillis?: number;
  /** `idle_in_transaction_session_timeout`: the longest pause between two statements. Default 10,000 ms. */
  idleInTransactionMillis?: number;
}

/** A tier (usually a customer plan): the model and limits of its tenants. */
export interface TierDefinition {
  /** Where the tier's tenants live. Required. */
  strategy: IsolationModel;
  /** Database model only: `max` connections of each tenant's own pool. Default `databasePools.defaultMax`. */
  pool?: { max?: number };
  /** Overrides `timeouts` of the module options for this tier's tenants. Default: the module's. */
  limits?: TransactionLimits;
  /**
   * The most units of work (requests being served) one tenant of this tier may have in flight at
   * once; past it a request gets 429 with Retry-After. Default: the module's `concurrency`.
   */
  concurrency?: number;
  /** Requests per second one tenant of this tier may start. Default: the module's `rate` (none). */
  rate?: RateLimit;
  /**
   * When true, the tier's `rate` (or the module's) is applied to a tenant only while it is a noisy
   * neighbour (see `NoisyNeighbours`), and automatically: a tenant of the tier is not rate-limited
   * until its load passes `usage.noisy.factor` times the median, and is again free once it drops
   * below. Needs a `rate`. Default false: the rate, if any, always applies.
   */
  throttleWhenNoisy?: boolean;
  /** Unit prices of this tier's tenants, each overriding the file's `prices`. Default: those. */
  prices?: Partial<UnitPrices>;
}

/**
 * Unit prices of the cost estimate (`UsageReports`), per tier: what running a tenant costs you,
 * not what you bill. The defaults are list prices of a managed cloud of 2025 for the same units,
 * rounded: USD 0.20 per million requests (AWS Lambda's request charge), USD 0.12 per hour of
 * database time (one Aurora Serverless v2 ACU-hour), USD 0.10 per GB-month of storage (Aurora's
 * storage). GB is 2^30 bytes, a month 730 hours, as cloud bills count them.
 */
export interface UnitPrices {
  /** ISO 4217 code the prices are in. Default `USD`. */
  currency: string;
  /** Per million units of work (HTTP requests and `TenancyService.run` calls). Default 0.20. */
  computePerMillionRequests: number;
  /** Per hour of database time (a unit's connection held, see `UnitOfWork.databaseMillis`). Default 0.12. */
  databasePerHour: number;
  /** Per GB-month of the tenant's storage (see `TenantStorage`). Default 0.10. */
  storagePerGbMonth: number;
}

/** The prices used where the tenants file sets none (see `UnitPrices`). */
export const DEFAULT_UNIT_PRICES: Readonly<UnitPrices> = Object.freeze({
  currency: 'USD',
  computePerMillionRequests: 0.2,
  databasePerHour: 0.12,
  storagePerGbMonth: 0.1,
});

/** `usage`: the usage ledger and the noisy-neighbour detection (see `UsageLedger`, `NoisyNeighbours`). */
export interface UsageOptions {
  /**
   * Record usage at all: the ledger, the recent load per tenant and the noisy-neighbour detection
   * all listen to every ended unit of work. False takes all three off the request path (the usage
   * endpoints then report what the ledger already holds, and no tenant as noisy). Default true.
   */
  record?: boolean;
  /** The ledger's buffered counts are written to the control database this often. Default 10,000 ms. */
  flushMillis?: number;
  /** Tenant sizes (`TenantStorage`) are read again once older than this. Default 60,000 ms. */
  storageCacheMillis?: number;
  /** Noisy neighbours. */
  noisy?: {
    /** A tenant is noisy above this many times the median load of the active tenants. Default 10. */
    factor?: number;
    /** The window the detection looks at, in seconds. Default 60. */
    windowSeconds?: number;
    /** How often the detection runs, in milliseconds. Default 5,000. */
    checkMillis?: number;
    /** Fewer requests than this in the window never make a tenant noisy by requests. Default 100. */
    minRequests?: number;
    /** Less database time than this (ms) in the window never makes a tenant noisy by database time. Default 1,000. */
    minDatabaseMillis?: number;
  };
}

/**
 * `perSecond` requests per second on average, with bursts of up to `burst` at once (default: one
 * second's worth, `perSecond`, at least 1): counted by `@nestjs/throttler`'s storage as at most
 * `burst` requests per window of `burst / perSecond` seconds. Past it a request gets 429 with
 * Retry-After and RateLimit headers, and the tenant is refused for the rest of one window.
 */
export interface RateLimit {
  perSecond: number;
  burst?: number;
}

/**
 * Where the tenants' request counts (their tier's `rate`) are kept, as a `@nestjs/throttler`
 * `ThrottlerStorage`:
 * - `storage`: the app's own store (any `ThrottlerStorage`), used as it is;
 * - `redisUrl` (`redis://` or `rediss://`): a Redis every instance shares, so a tenant's `rate` is
 *   one limit across all instances (`@nest-lab/throttler-storage-redis` on `ioredis`, optional peer
 *   dependencies of this package: install both). A Redis that does not answer within 1 s admits
 *   the request uncounted (the rate is a fairness limit, not a reason to refuse service);
 * - neither (the default): this process's memory (`ThrottlerStorageService`), so N instances give a
 *   tenant N times its rate.
 */
export interface RateLimitStoreOptions {
  redisUrl?: string;
  storage?: ThrottlerStorage;
}

/**
 * The tenant cache (`TenantCache`) and the response cache of `@TenantCacheable({ responseCache })`
 * routes: one cache-manager `Cache`, every key scoped by deployment and tenant.
 *
 * The store, first of these given:
 * - `manager`: the app's own cache-manager `Cache` (for example `@nestjs/cache-manager`'s
 *   `CACHE_MANAGER`, injected into `forRootAsync`'s factory), used as it is;
 * - `stores`: Keyv instances (primary first), given to cache-manager's `createCache`; give them
 *   `throwOnErrors: true`, or a store that fails an invalidation is taken to have done it;
 * - `redisUrl` (`redis://` or `rediss://`): a Redis every instance shares (`@keyv/redis`, an optional
 *   peer dependency: install it), so invalidations are seen by every instance;
 * - none (the default): this process's memory (a Keyv over a `Map`, expired entries swept every
 *   minute); each instance then has its own cache, and invalidations reach the other instances
 *   through the catalog's LISTEN/NOTIFY (within about a second), not through the store.
 */
export interface TenantCacheOptions {
  manager?: Cache;
  stores?: Keyv[];
  redisUrl?: string;
  /** Time to live of `TenantCache.set` and `wrap` when the call gives none, in milliseconds. Default 60,000 ms. */
  ttlMillis?: number;
  /**
   * The longest a store operation may take before it counts as failed (a get is then a miss, a set
   * is skipped): a cache that does not answer costs a request at most this. Milliseconds. Default 500 ms.
   */
  timeoutMillis?: number;
  /**
   * The response cache: how long a `@TenantCacheable({ responseCache: true })` route's 200 answers
   * are kept, in seconds (a route may give its own `ttlSeconds`). 0 turns the response cache off for
   * every route (and spares writes the invalidation's round trip to the store). Default 0 (off).
   */
  responseTtlSeconds?: number;
}

/** A tenant to seed into the catalog. */
export interface TenantDefinition {
  /** 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit. */
  id: string;
  /** Display name. */
  name: string;
  /** A key of `tiers`; the tenant takes its model and limits. Either `tier` or `strategy` is required. */
  tier?: string;
  /** Overrides the tier's model. */
  strategy?: IsolationModel;
  /** Database model: the server (a key of `servers`) that holds the tenant's database. Default `default`. */
  server?: string;
}

/** What a tenants file holds once validated (see `loadTenantsFile`). */
export interface TenantsDefinition {
  tiers: Record<string, TierDefinition>;
  tenants: TenantDefinition[];
  /** Unit prices of the cost estimate; a tier's `prices` override them. Default `DEFAULT_UNIT_PRICES`. */
  prices?: Partial<UnitPrices>;
}

/** `resolution.jwt`: a verified bearer token as a source of the tenant id. */
export interface JwtResolutionOptions {
  /** HS256/384/512 shared secret (at least 32 characters advised). One of `secret` or `jwksUrl` turns the source on. */
  secret?: string;
  /** Or a JWKS endpoint (http or https URL) for asymmetric keys. */
  jwksUrl?: string;
  /** Claim holding the tenant id. Default `tenant_id`. */
  claim?: string;
  /** Expected `iss`; a token with another is 401. Default: not checked. */
  issuer?: string;
  /** Expected `aud`; a token with another is 401. Default: not checked. */
  audience?: string;
  /**
   * When true, a JWT's tenant wins and any other source that names a different tenant is refused
   * with 403. Default: true when `process.env.NODE_ENV` is `production`.
   */
  authoritative?: boolean;
  /**
   * When true, every tenant route needs a valid bearer token carrying the tenant claim: without one
   * the answer is 401 (`TenantTokenRequiredError`), the same whatever tenant the other sources name.
   * Default: true when `process.env.NODE_ENV` is `production` (and a secret or JWKS URL is set).
   */
  required?: boolean;
}

/** `resolution`: where a request's tenant id comes from. */
export interface ResolutionOptions {
  /**
   * The sources read, in this order, by name: the built-in `jwt`, `header`, `subdomain`, `path`,
   * and the `name` of each source of `sources`. A built-in source left out is not used; a source of
   * `sources` left out is read after the listed ones. A name that is no source fails at start.
   * Default `['jwt', 'header', 'subdomain', 'path']` followed by `sources` in their order
   * (`jwt` only when `jwt.secret` or `jwt.jwksUrl` is set).
   */
  order?: string[];
  /**
   * Sources of your own (a cookie, an API key, ...): instances, or classes the module builds with
   * their dependencies injected (from the module's `imports`, `extraProviders` or global
   * providers). Each implements `TenantSource` with a `name` of its own. Default none.
   */
  sources?: (TenantSource | Type<TenantSource>)[];
  /** The `header` source's header (case-insensitive). Default `x-tenant-id`. */
  header?: string;
  /** The `subdomain` source: `<tenant>.<baseDomain>` names the tenant. Default `localhost`. */
  baseDomain?: string;
  /** The `path` source: `/<pathPrefix>/<tenant>/...` names the tenant (and is stripped). Default `t`. */
  pathPrefix?: string;
  /** The `jwt` source. Default: none (the source is off). */
  jwt?: JwtResolutionOptions;
  /** Paths served without a tenant (the path itself and everything under it). Default `['/health', '/docs']`. */
  exclude?: string[];
  /**
   * Two sources naming different tenants: `'reject'` (default) answers 400
   * (`TenantSourcesConflictError`, naming both sources); `'first'` serves the first source of
   * `order`. An authoritative JWT still wins with 403 for any other source that disagrees.
   */
  onConflict?: 'reject' | 'first';
}

/**
 * The options of `TenancyModule.forRoot` (or what `forRootAsync` computes). Only `databaseUrl`,
 * `catalog` and `migrations` are required; every other has the default its comment names.
 */
export interface TenancyModuleOptions {
  /**
   * Owner connection URL (`postgres://...`) of the control database: migrations, provisioning, the
   * catalog; also home of the shared and schema models, and the `default` server. Required.
   */
  databaseUrl: string;
  /**
   * The same database reached without a transaction pooler, for session work: LISTEN, session
   * advisory locks, DDL, COPY (owner connections and the catalog listener). Requests keep using
   * `databaseUrl`, which may point at PgBouncer in transaction mode. Default: `databaseUrl`.
   * Extra `servers` have no direct URL of their own: name them by a direct address.
   */
  directUrl?: string;
  /**
   * Extra servers for the database model: name -> owner connection URL. `default` is reserved
   * (it is `databaseUrl`). Default none. `parseServerList` reads the `name=url,...` form.
   */
  servers?: Record<string, string>;
  /** Tiers and the tenants to seed into the catalog (for example from `loadTenantsFile`). Required. */
  catalog: TenantsDefinition;
  /**
   * Tenant-owned entities (identical in every model), besides those `TenancyModule.forFeature`
   * registers. Default none: list entities where they are used, with `forFeature`.
   */
  entities?: Function[];
  /** One migration set for the tenant-owned tables, applied to every model, in order. Required. */
  migrations: (new () => MigrationInterface)[];
  /** Where a request's tenant id comes from (see `ResolutionOptions`). Default: every field's default. */
  resolution?: ResolutionOptions;
  /**
   * A short name (1 to 10 characters of a-z and 0-9) that keeps what this deployment creates on a
   * server apart from what other deployments (staging and production, two products) create there:
   * tenant databases are named `<databasePrefix><deploymentKey>_<tenant>` and the default runtime
   * role `tenancy_app_<deploymentKey>`. Default: derived from the control database's name (that
   * name itself when it is 1 to 10 characters of a-z and 0-9, else its first letters and digits
   * plus 6 hex digits of its SHA-256). Once a deployment has started, its key is kept in the
   * control database and a different one is refused at start: the names would change under it.
   */
  deploymentKey?: string;
  /**
   * Revoke `CONNECT` on the control database from `PUBLIC` (granting it to the runtime role), so the
   * runtime roles of other deployments on the server cannot even sign in to it and read its catalog
   * (schema names, policies). Done only when the owner connection owns the database (or is a
   * superuser) and it is not the `postgres` maintenance database. Other roles that must connect then
   * need their own `GRANT CONNECT`. Default true.
   */
  restrictControlDatabase?: boolean;
  /**
   * Name of the DML-only runtime role the service creates and connects as. Default
   * `tenancy_app_<deploymentKey>`. The role is marked as this deployment's (a comment on it); a role
   * of that name that another deployment (or anyone else) created is refused at start, never changed.
   */
  runtimeRole?: string;
  /** Names of what the module creates. */
  naming?: {
    /** Schema of the catalog, ledger and move journal in the control database. Default `tenancy`. */
    controlSchema?: string;
    /** Schema of the shared model's tables. Default `tenancy_shared`. */
    sharedSchema?: string;
    /** Schema model: a tenant's schema is `<schemaPrefix><tenant>`. Default `tenant_`. */
    schemaPrefix?: string;
    /** Database model: a tenant's database is `<databasePrefix><deploymentKey>_<tenant>`. Default `tenant_`. */
    databasePrefix?: string;
  };
  /** The pool of the home database (shared and schema models). */
  pool?: {
    /** Connections at most. Default 10. */
    max?: number;
    /** A connection is closed once this old, in seconds. Default 300 s. */
    maxLifetimeSeconds?: number;
    /**
     * A connection is closed after serving this many units of work. Under the schema model each
     * tenant a connection serves leaves its tables' catalog entries (about 80 KB) cached in the
     * server process until the connection closes: this bounds that cache per connection whatever
     * the number of tenants and however fast they are served (at most about `maxUses` × 80 KB),
     * for one new connection every `maxUses` units. Default 500.
     */
    maxUses?: number;
    /** An idle connection is closed after this long. Default 10,000 ms. */
    idleTimeoutMillis?: number;
  };
  /** The registry of per-tenant pools (database model). */
  databasePools?: {
    /** Connections of a tenant's pool when its tier sets no `pool.max`: a ceiling, not a reservation. Default 5. */
    defaultMax?: number;
    /**
     * Connections all tenant pools of one server may have open together (in use and idle). A unit
     * of work past it waits its fair turn, at most `timeouts.acquireMillis`, then gets 503. Default 50.
     */
    budgetPerServer?: number;
    /** A tenant pool idle this long is closed. Default 60,000 ms. */
    idleMillis?: number;
    /** A connection is closed once this old, in seconds. Default 300 s. */
    maxLifetimeSeconds?: number;
  };
  /**
   * The most units of work (requests being served, `TenancyService.run` calls) one tenant may have
   * in flight at once, for tiers that set no `concurrency`; past it a request gets 429 with
   * Retry-After, so one flooding tenant cannot take the service from the others. Default 100.
   */
  concurrency?: number;
  /**
   * Requests per second one tenant may start, for tiers that set no `rate`. Default: none (only
   * `concurrency` bounds a tenant).
   */
  rate?: RateLimit;
  /** Where tenants' requests are counted against their `rate`. Default: this process's memory. */
  rateLimitStore?: RateLimitStoreOptions;
  /** The tenant cache and the response cache (see `TenantCacheOptions`). Default: in memory, responses off. */
  cache?: TenantCacheOptions;
  /** The usage ledger and noisy neighbours (see `UsageOptions`). Default: every field's default. */
  usage?: UsageOptions;
  /** Provision and migrate the tenants of `catalog` at start. Default true. */
  seedOnStart?: boolean;
  /** Safety-net re-read of the catalog, besides LISTEN/NOTIFY, in milliseconds. Default 30,000 ms. */
  catalogRefreshMillis?: number;
  /**
   * The re-read interval used instead when LISTEN is seen not to deliver at start (the catalog
   * notifies itself and waits about 2 s; a transaction pooler swallows it). Default 1,000 ms.
   */
  catalogFallbackRefreshMillis?: number;
  /**
   * Time limits of the request path, in milliseconds (see `TransactionLimits` for the defaults of
   * the transaction's own). A database that is down, restarting or frozen then costs a caller a
   * 503 with Retry-After within a few seconds, never a hang.
   */
  timeouts?: TransactionLimits & {
    /** Opening a new connection (TCP and sign-in), and waiting for a free one of a full pool. Default 3,000 ms. */
    acquireMillis?: number;
  };
  /**
   * Citus mode, for the shared and schema models on a Citus cluster (the README's "Citus" section):
   * the tenant is set with `SET LOCAL` so the workers see it, the shared tables are distributed by
   * `tenant_id`, each tenant schema becomes a distributed schema, and the runtime role gets its
   * `pg_dist_authinfo` row. `'auto'` (default): on when the `citus` extension is installed in the
   * control database (`pg_extension`), looked up once at start; `true` requires it (start fails
   * without it); `false` never uses Citus's functions.
   */
  citus?: 'auto' | boolean;
  /**
   * Add an explicit `tenant_id = '<tenant>'` predicate to every query TypeORM builds in a unit of
   * work, for each entity that maps `tenant_id` (repositories, the tenant EntityManager and
   * DataSource, their query builders), besides row-level security. Citus needs it to route a query
   * to one shard (Citus mode refuses `false`); on plain PostgreSQL it is defence in depth. Default true.
   */
  tenantPredicate?: boolean;
  /**
   * Per-tenant encryption of `@EncryptedColumn()` columns (see `EncryptionOptions`). Default: off
   * (such columns store what they are given).
   */
  encryption?: EncryptionOptions;
}

/** `encryption`: tenants' data keys, wrapped by a key provider's key-encryption key. */
export interface EncryptionOptions {
  /** Wraps and unwraps the data keys: `LocalKeyProvider.fromEnvironment()`, or a KMS adapter. Required. */
  keyProvider: KeyProvider;
  /** Tenants whose unwrapped data keys this process keeps in memory at most (least recently used out). Default 10,000. */
  cacheSize?: number;
  /** How long a tenant's unwrapped keys are kept before they are read again, in milliseconds. Default 300,000 ms. */
  cacheMillis?: number;
}

export type ResolvedTenancyOptions = Required<
  Omit<
    TenancyModuleOptions,
    | 'resolution'
    | 'naming'
    | 'pool'
    | 'databasePools'
    | 'servers'
    | 'timeouts'
    | 'rate'
    | 'entities'
    | 'cache'
    | 'citus'
    | 'usage'
    | 'encryption'
  >
> & {
  cache: Pick<TenantCacheOptions, 'manager' | 'stores' | 'redisUrl'> &
    Required<Pick<TenantCacheOptions, 'ttlMillis' | 'timeoutMillis' | 'responseTtlSeconds'>>;
  usage: Required<Omit<UsageOptions, 'noisy'>> & { noisy: Required<NonNullable<UsageOptions['noisy']>> };
  encryption: { keyProvider?: KeyProvider; cacheSize: number; cacheMillis: number };
  entities: Function[];
  rate?: RateLimit;
  citus: 'auto' | boolean;
  timeouts: Required<NonNullable<TenancyModuleOptions['timeouts']>>;
  servers: Record<string, string>;
  resolution: Required<Omit<ResolutionOptions, 'jwt'>> & {
    jwt?: JwtResolutionOptions & { claim: string; authoritative: boolean; required: boolean };
  };
  naming: Required<NonNullable<TenancyModuleOptions['naming']>>;
  pool: Required<NonNullable<TenancyModuleOptions['pool']>>;
  databasePools: Required<NonNullable<TenancyModuleOptions['databasePools']>>;
};

export const TENANCY_OPTIONS = Symbol('TENANCY_OPTIONS');

/** A deployment key: 1 to 10 characters of a-z and 0-9. */
export const DEPLOYMENT_KEY_PATTERN = /^[a-z0-9]{1,10}$/;

/**
 * The default deployment key of a control database: its name when that is already a valid key,
 * else its first four letters and digits plus 6 hex digits of the SHA-256 of the whole name (so
 * `ctl_a` and `ctl_b` get different keys).
 */
export function deriveDeploymentKey(controlDatabase: string): string {
  if (DEPLOYMENT_KEY_PATTERN.test(controlDatabase)) return controlDatabase;
  const readable = controlDatabase
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 4);
  return readable + createHash('sha256').update(controlDatabase).digest('hex').slice(0, 6);
}
/** The options as given (forRoot) or computed (forRootAsync), before `resolveTenancyOptions`. */
export const TENANCY_MODULE_OPTIONS = Symbol('TENANCY_MODULE_OPTIONS');

export function resolveTenancyOptions(options: TenancyModuleOptions): ResolvedTenancyOptions {
  const production = process.env.NODE_ENV === 'production';
  const jwt = options.resolution?.jwt;
  const hasJwt = !!(jwt?.secret || jwt?.jwksUrl);
  const deploymentKey = options.deploymentKey ?? deriveDeploymentKey(databaseOf(options.databaseUrl));
  return {
    deploymentKey,
    databaseUrl: options.databaseUrl,
    directUrl: options.directUrl ?? options.databaseUrl,
    servers: { ...(options.servers ?? {}), default: options.databaseUrl },
    catalog: options.catalog,
    entities: options.entities ?? [],
    migrations: options.migrations,
    resolution: {
      order: options.resolution?.order ?? ['jwt', 'header', 'subdomain', 'path'],
      sources: options.resolution?.sources ?? [],
      header: (options.resolution?.header ?? 'x-tenant-id').toLowerCase(),
      baseDomain: (options.resolution?.baseDomain ?? 'localhost').toLowerCase(),
      pathPrefix: options.resolution?.pathPrefix ?? 't',
      // Lower case, as Express routes: compared with a request's path lowered once (isExcludedPath).
      exclude: (options.resolution?.exclude ?? ['/health', '/docs']).map((p) => p.toLowerCase()),
      onConflict: options.resolution?.onConflict ?? 'reject',
      jwt: hasJwt
        ? {
            ...jwt,
            claim: jwt?.claim ?? 'tenant_id',
            authoritative: jwt?.authoritative ?? production,
            required: jwt?.required ?? production,
          }
        : undefined,
    },
    runtimeRole: options.runtimeRole ?? `tenancy_app_${deploymentKey}`,
    naming: {
      controlSchema: options.naming?.controlSchema ?? 'tenancy',
      sharedSchema: options.naming?.sharedSchema ?? 'tenancy_shared',
      schemaPrefix: options.naming?.schemaPrefix ?? 'tenant_',
      databasePrefix: options.naming?.databasePrefix ?? 'tenant_',
    },
    pool: {
      max: options.pool?.max ?? 10,
      maxLifetimeSeconds: options.pool?.maxLifetimeSeconds ?? 300,
      maxUses: options.pool?.maxUses ?? 500,
      idleTimeoutMillis: options.pool?.idleTimeoutMillis ?? 10_000,
    },
    databasePools: {
      defaultMax: options.databasePools?.defaultMax ?? 5,
      budgetPerServer: options.databasePools?.budgetPerServer ?? 50,
      idleMillis: options.databasePools?.idleMillis ?? 60_000,
      maxLifetimeSeconds: options.databasePools?.maxLifetimeSeconds ?? 300,
    },
    concurrency: options.concurrency ?? 100,
    rate: options.rate,
    rateLimitStore: options.rateLimitStore ?? {},
    cache: {
      manager: options.cache?.manager,
      stores: options.cache?.stores,
      redisUrl: options.cache?.redisUrl,
      ttlMillis: options.cache?.ttlMillis ?? 60_000,
      timeoutMillis: options.cache?.timeoutMillis ?? 500,
      responseTtlSeconds: options.cache?.responseTtlSeconds ?? 0,
    },
    usage: {
      record: options.usage?.record ?? true,
      flushMillis: options.usage?.flushMillis ?? 10_000,
      storageCacheMillis: options.usage?.storageCacheMillis ?? 60_000,
      noisy: {
        factor: options.usage?.noisy?.factor ?? 10,
        windowSeconds: options.usage?.noisy?.windowSeconds ?? 60,
        checkMillis: options.usage?.noisy?.checkMillis ?? 5_000,
        minRequests: options.usage?.noisy?.minRequests ?? 100,
        minDatabaseMillis: options.usage?.noisy?.minDatabaseMillis ?? 1_000,
      },
    },
    seedOnStart: options.seedOnStart ?? true,
    restrictControlDatabase: options.restrictControlDatabase ?? true,
    catalogRefreshMillis: options.catalogRefreshMillis ?? 30_000,
    catalogFallbackRefreshMillis: options.catalogFallbackRefreshMillis ?? 1_000,
    citus: options.citus ?? 'auto',
    tenantPredicate: options.tenantPredicate ?? true,
    timeouts: {
      acquireMillis: options.timeouts?.acquireMillis ?? 3_000,
      statementMillis: options.timeouts?.statementMillis ?? 5_000,
      lockMillis: options.timeouts?.lockMillis ?? 2_000,
      idleInTransactionMillis: options.timeouts?.idleInTransactionMillis ?? 10_000,
    },
    encryption: {
      keyProvider: options.encryption?.keyProvider,
      cacheSize: options.encryption?.cacheSize ?? 10_000,
      cacheMillis: options.encryption?.cacheMillis ?? 300_000,
    },
  };
}

/** The transaction limits of a tenant of `tier`: the tier's own, else the module's. */
export function limitsFor(options: ResolvedTenancyOptions, tier: string | null | undefined): Required<TransactionLimits> {
  const own = tier && Object.hasOwn(options.catalog.tiers, tier) ? options.catalog.tiers[tier].limits : undefined;
  return {
    statementMillis: own?.statementMillis ?? options.timeouts.statementMillis,
    lockMillis: own?.lockMillis ?? options.timeouts.lockMillis,
    idleInTransactionMillis: own?.idleInTransactionMillis ?? options.timeouts.idleInTransactionMillis,
  };
}

/**
 * The admission limits of a tenant of `tier`, each the tier's own, else the module's: the most units
 * of work in flight, and the rate (with its burst filled in), if any.
 */
export function admissionFor(
  options: ResolvedTenancyOptions,
  tier: string | null | undefined,
): { concurrency: number; rate?: Required<RateLimit>; onlyWhenNoisy: boolean } {
  const own = tier && Object.hasOwn(options.catalog.tiers, tier) ? options.catalog.tiers[tier] : undefined;
  const rate = own?.rate ?? options.rate;
  return {
    concurrency: own?.concurrency ?? options.concurrency,
    onlyWhenNoisy: own?.throttleWhenNoisy === true,
    rate: rate ? { perSecond: rate.perSecond, burst: rate.burst ?? Math.max(1, rate.perSecond) } : undefined,
  };
}

/**
 * How long the client waits for any answer of the database on the request path (pg's
 * `query_timeout`): the longest statement any tier allows plus a second, so only a server that
 * does not answer at all (frozen, cut off) trips it; PostgreSQL's own limits fire first otherwise.
 */
export function clientQueryTimeout(options: ResolvedTenancyOptions): number {
  const tiers = Object.keys(options.catalog.tiers);
  return Math.max(options.timeouts.statementMillis, ...tiers.map((t) => limitsFor(options, t).statementMillis)) + 1_000;
}

/** The unit prices of a tenant of `tier`: the tier's own, else the catalog's, else the defaults. */
export function pricesFor(catalog: TenantsDefinition, tier: string | null | undefined): UnitPrices {
  const own = tier && Object.hasOwn(catalog.tiers, tier) ? catalog.tiers[tier].prices : undefined;
  return { ...DEFAULT_UNIT_PRICES, ...catalog.prices, ...own };
}
