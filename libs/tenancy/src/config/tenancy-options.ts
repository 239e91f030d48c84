import { createHash } from 'node:crypto';
import type { MigrationInterface } from 'typeorm';
import { databaseOf } from '../data-source/connection-url';

/** The three isolation models, by the names used in configuration. */
export type IsolationModel = 'shared' | 'schema' | 'database';
export const ISOLATION_MODELS: readonly IsolationModel[] = ['shared', 'schema', 'database'];

export type ResolverName = 'jwt' | 'header' | 'subdomain' | 'path';

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

export interface TierDefinition {
  strategy: IsolationModel;
  /** Database model only: connections of the tenant's own pool. */
  pool?: { max?: number };
  /** Overrides `timeouts` of the module options for this tier's tenants. */
  limits?: TransactionLimits;
  /**
   * The most units of work (requests being served) one tenant of this tier may have in flight at
   * once; past it a request gets 429 with Retry-After. Default: the module's `concurrency`.
   */
  concurrency?: number;
  /** Requests per second one tenant of this tier may start. Default: the module's `rate` (none). */
  rate?: RateLimit;
}

/**
 * A token bucket: `perSecond` requests per second on average, with bursts of up to `burst` at once
 * (default: one second's worth, `perSecond`). Past it a request gets 429 with Retry-After.
 */
export interface RateLimit {
  perSecond: number;
  burst?: number;
}

export interface TenantDefinition {
  id: string;
  name: string;
  tier?: string;
  /** Overrides the tier's model. */
  strategy?: IsolationModel;
  /** Database model: the server (a key of `servers`) that holds the tenant's database. */
  server?: string;
}

/** What `config/tenants.yaml` holds once validated. */
export interface TenantsDefinition {
  tiers: Record<string, TierDefinition>;
  tenants: TenantDefinition[];
}

export interface JwtResolutionOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** Or a JWKS endpoint for asymmetric keys. */
  jwksUrl?: string;
  /** Claim holding the tenant id. Default `tenant_id`. */
  claim?: string;
  issuer?: string;
  audience?: string;
  /**
   * When true, a JWT's tenant wins and any other source that names a different tenant is refused
   * with 403. Default: true when NODE_ENV is production.
   */
  authoritative?: boolean;
  /**
   * When true, every tenant route needs a valid bearer token carrying the tenant claim: without one
   * the answer is 401 (`TenantTokenRequiredError`), the same whatever tenant the other sources name.
   * Default: true when NODE_ENV is production (and a secret or JWKS URL is set).
   */
  required?: boolean;
}

export interface TenancyModuleOptions {
  /** Owner connection of the control database, also home of the shared and schema models. */
  databaseUrl: string;
  /**
   * The same database reached without a transaction pooler, for session work: LISTEN, session
   * advisory locks, DDL, COPY (owner connections and the catalog listener). Requests keep using
   * `databaseUrl`, which may point at PgBouncer in transaction mode. Default: `databaseUrl`.
   * Extra `servers` have no direct URL of their own: name them by a direct address.
   */
  directUrl?: string;
  /** Extra servers for the database model: name -> owner connection URL. `default` is databaseUrl. */
  servers?: Record<string, string>;
  /** Tiers and the tenants to seed into the catalog (usually from config/tenants.yaml). */
  catalog: TenantsDefinition;
  /** Tenant-owned entities (identical in every model). */
  entities: Function[];
  /** One migration set for the tenant-owned tables, applied to every model. */
  migrations: (new () => MigrationInterface)[];
  resolution?: {
    order?: ResolverName[];
    header?: string;
    baseDomain?: string;
    pathPrefix?: string;
    jwt?: JwtResolutionOptions;
    /** Paths served without a tenant (prefix match). */
    exclude?: string[];
    /**
     * Two sources naming different tenants: `'reject'` (default) answers 400
     * (`TenantSourcesConflictError`, naming both sources); `'first'` serves the first source of
     * `order`. An authoritative JWT still wins with 403 for any other source that disagrees.
     */
    onConflict?: 'reject' | 'first';
  };
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
  naming?: {
    controlSchema?: string;
    sharedSchema?: string;
    schemaPrefix?: string;
    databasePrefix?: string;
  };
  /** The pool of the home database (shared and schema models). */
  pool?: { max?: number; maxLifetimeSeconds?: number; idleTimeoutMillis?: number };
  /** The registry of per-tenant pools (database model). */
  databasePools?: {
    /** Connections of a tenant's pool when its tier sets no `pool.max`: a ceiling, not a reservation. Default 5. */
    defaultMax?: number;
    /**
     * Connections all tenant pools of one server may have open together (in use and idle). A unit
     * of work past it waits its fair turn, at most `timeouts.acquireMillis`, then gets 503. Default 50.
     */
    budgetPerServer?: number;
    idleMillis?: number;
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
  /** Provision and migrate the tenants of `catalog` at start. Default true. */
  seedOnStart?: boolean;
  /** Safety-net re-read of the catalog, besides LISTEN/NOTIFY. Default 30 s. */
  catalogRefreshMillis?: number;
  /**
   * The re-read interval used instead when LISTEN is seen not to deliver at start (the catalog
   * notifies itself and waits about 2 s; a transaction pooler swallows it). Default 1 s.
   */
  catalogFallbackRefreshMillis?: number;
  /**
   * Time limits of the request path, in milliseconds. A database that is down, restarting or frozen
   * then costs a caller a 503 with Retry-After within a few seconds, never a hang.
   */
  timeouts?: TransactionLimits & {
    /** Opening a new connection (TCP and sign-in), and waiting for a free one of a full pool. Default 3,000 ms. */
    acquireMillis?: number;
  };
}

export type ResolvedTenancyOptions = Required<
  Omit<TenancyModuleOptions, 'resolution' | 'naming' | 'pool' | 'databasePools' | 'servers' | 'timeouts' | 'rate'>
> & {
  rate?: RateLimit;
  timeouts: Required<NonNullable<TenancyModuleOptions['timeouts']>>;
  servers: Record<string, string>;
  resolution: Required<Omit<NonNullable<TenancyModuleOptions['resolution']>, 'jwt'>> & {
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
  const readable = controlDatabase.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 4);
  return readable + createHash('sha256').update(controlDatabase).digest('hex').slice(0, 6);
}
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
    entities: options.entities,
    migrations: options.migrations,
    resolution: {
      order: options.resolution?.order ?? ['jwt', 'header', 'subdomain', 'path'],
      header: (options.resolution?.header ?? 'x-tenant-id').toLowerCase(),
      baseDomain: (options.resolution?.baseDomain ?? 'localhost').toLowerCase(),
      pathPrefix: options.resolution?.pathPrefix ?? 't',
      exclude: options.resolution?.exclude ?? ['/health', '/docs'],
      onConflict: options.resolution?.onConflict ?? 'reject',
      jwt: hasJwt
        ? { ...jwt, claim: jwt?.claim ?? 'tenant_id', authoritative: jwt?.authoritative ?? production, required: jwt?.required ?? production }
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
    seedOnStart: options.seedOnStart ?? true,
    restrictControlDatabase: options.restrictControlDatabase ?? true,
    catalogRefreshMillis: options.catalogRefreshMillis ?? 30_000,
    catalogFallbackRefreshMillis: options.catalogFallbackRefreshMillis ?? 1_000,
    timeouts: {
      acquireMillis: options.timeouts?.acquireMillis ?? 3_000,
      statementMillis: options.timeouts?.statementMillis ?? 5_000,
      lockMillis: options.timeouts?.lockMillis ?? 2_000,
      idleInTransactionMillis: options.timeouts?.idleInTransactionMillis ?? 10_000,
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
export function admissionFor(options: ResolvedTenancyOptions, tier: string | null | undefined): { concurrency: number; rate?: Required<RateLimit> } {
  const own = tier && Object.hasOwn(options.catalog.tiers, tier) ? options.catalog.tiers[tier] : undefined;
  const rate = own?.rate ?? options.rate;
  return {
    concurrency: own?.concurrency ?? options.concurrency,
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
