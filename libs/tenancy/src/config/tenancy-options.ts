import type { MigrationInterface } from 'typeorm';

/** The three isolation models, by the names used in configuration. */
export type IsolationModel = 'shared' | 'schema' | 'database';
export const ISOLATION_MODELS: readonly IsolationModel[] = ['shared', 'schema', 'database'];

export type ResolverName = 'jwt' | 'header' | 'subdomain' | 'path';

export interface TierDefinition {
  strategy: IsolationModel;
  /** Database model only: connections of the tenant's own pool. */
  pool?: { max?: number };
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
  };
  /** Name of the DML-only runtime role the service creates and connects as. */
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
    defaultMax?: number;
    budgetPerServer?: number;
    idleMillis?: number;
    maxLifetimeSeconds?: number;
  };
  /** Provision and migrate the tenants of `catalog` at start. Default true. */
  seedOnStart?: boolean;
  /** Safety-net re-read of the catalog, besides LISTEN/NOTIFY. Default 30 s. */
  catalogRefreshMillis?: number;
  /**
   * The re-read interval used instead when LISTEN is seen not to deliver at start (the catalog
   * notifies itself and waits about 2 s; a transaction pooler swallows it). Default 1 s.
   */
  catalogFallbackRefreshMillis?: number;
}

export type ResolvedTenancyOptions = Required<
  Omit<TenancyModuleOptions, 'resolution' | 'naming' | 'pool' | 'databasePools' | 'servers'>
> & {
  servers: Record<string, string>;
  resolution: Required<Omit<NonNullable<TenancyModuleOptions['resolution']>, 'jwt'>> & {
    jwt?: JwtResolutionOptions & { claim: string; authoritative: boolean };
  };
  naming: Required<NonNullable<TenancyModuleOptions['naming']>>;
  pool: Required<NonNullable<TenancyModuleOptions['pool']>>;
  databasePools: Required<NonNullable<TenancyModuleOptions['databasePools']>>;
};

export const TENANCY_OPTIONS = Symbol('TENANCY_OPTIONS');
export const TENANCY_MODULE_OPTIONS = Symbol('TENANCY_MODULE_OPTIONS');

export function resolveTenancyOptions(options: TenancyModuleOptions): ResolvedTenancyOptions {
  const production = process.env.NODE_ENV === 'production';
  const jwt = options.resolution?.jwt;
  const hasJwt = !!(jwt?.secret || jwt?.jwksUrl);
  return {
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
      jwt: hasJwt
        ? { ...jwt, claim: jwt?.claim ?? 'tenant_id', authoritative: jwt?.authoritative ?? production }
        : undefined,
    },
    runtimeRole: options.runtimeRole ?? 'tenancy_app',
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
    seedOnStart: options.seedOnStart ?? true,
    catalogRefreshMillis: options.catalogRefreshMillis ?? 30_000,
    catalogFallbackRefreshMillis: options.catalogFallbackRefreshMillis ?? 1_000,
  };
}
