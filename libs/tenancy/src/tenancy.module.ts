import {
  DynamicModule,
  Inject,
  MiddlewareConsumer,
  Module,
  ModuleMetadata,
  NestModule,
  OnModuleInit,
  Optional,
  Provider,
} from '@nestjs/common';
import { APP_INTERCEPTOR, ContextIdFactory, HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import { checkTenancyOptions } from './config/check-options';
import { ClsMiddleware, ClsModule } from 'nestjs-cls';
import type { EntityTarget, ObjectLiteral } from 'typeorm';
import { ControlLocks } from './catalog/control-locks';
import { Deployment } from './catalog/deployment';
import { TenantAccess } from './catalog/tenant-access';
import { MoveJournal } from './catalog/move-journal';
import { SeedRecords } from './catalog/seed-records';
import { TenantCatalog } from './catalog/tenant-catalog';
import { TenantNaming } from './catalog/tenant-naming';
import type { TenancyModuleAsyncOptions, TenancyModuleRegistration, TenancyOptionsFactory } from './config/tenancy-module-options';
import {
  ResolvedTenancyOptions,
  resolveTenancyOptions,
  TENANCY_MODULE_OPTIONS,
  TENANCY_OPTIONS,
  TenancyModuleOptions,
} from './config/tenancy-options';
import { currentTenantProvider, CURRENT_TENANT } from './context/current-tenant';
import { currentStrategyProvider, CURRENT_STRATEGY } from './context/current-strategy';
import { currentTenantDataSourceProvider, CURRENT_TENANT_DATA_SOURCE } from './context/current-tenant-data-source';
import { SHARED_TENANT_DATA_SOURCE } from './context/tenant-data-source';
import { TENANT_DATA_SOURCE_TOKEN, TENANT_ENTITY_MANAGER_TOKEN, tenantTypeOrmProviders } from './context/typeorm-tokens';
import { TenancyService } from './context/tenancy.service';
import { TenantActivity } from './context/tenant-activity';
import { PoolGauges } from './pools/pool-gauges';
import { LifecycleProgressReader } from './lifecycle/lifecycle-progress';
import { TenantContextIdStrategy } from './context/tenant-context-id.strategy';
import { UnitOfWorkScope } from './context/unit-of-work-scope';
import { FeatureEntities } from './connections/feature-entities';
import { TenancyConfigError } from './errors/tenancy.errors';
import { HomeDataSource } from './pools/home-data-source';
import { OWNER_DATA_SOURCE, OwnerConnections } from './connections/owner-connections';
import { PoolRegistry } from './pools/pool-registry';
import { RuntimeRole } from './catalog/runtime-role';
import { CitusMode } from './connections/citus-mode';
import { TenancyReadiness } from './pools/tenancy-readiness';
import { TenantDataSource } from './context/tenant-data-source';
import { tenantRepositoryProviders } from './context/tenant-repository';
import { TenantAdmission } from './data-source/tenant-admission';
import { rateLimitStoreProvider } from './data-source/rate-limit-store';
import { UnitOfWorkFactory } from './data-source/unit-of-work-factory';
import { UnitOfWorkInterceptor } from './context/unit-of-work.interceptor';
import { TenantCacheableRoutes } from './context/tenant-cacheable';
import { tenantCacheStoreProvider } from './cache/cache-store';
import { TenantCache } from './cache/tenant-cache';
import { TenantResponseCache } from './cache/response-cache';
import { TenantLifecycleHooks } from './catalog/tenant-lifecycle-hooks';
import { DeploymentUpgrade } from './lifecycle/deployment-upgrade';
import { MigrationRunner } from './migrations/migration-runner';
import { TenancyBootstrap } from './lifecycle/tenancy-bootstrap';
import { TenantMigrator } from './migrations/tenant-migrator';
import { MigrationLedger } from './migrations/migration-ledger';
import { TenantExporter } from './lifecycle/tenant-exporter';
import { ExportFreshness } from './lifecycle/export-freshness';
import { TenantInspector } from './lifecycle/tenant-inspector';
import { TenantLifecycle } from './lifecycle/tenant-lifecycle';
import { TenantMigrations } from './lifecycle/tenant-migrations';
import { MoveRecovery } from './lifecycle/move/move-recovery';
import { TenantMover } from './lifecycle/move/tenant-mover';
import { TenantProvisioner } from './lifecycle/tenant-provisioner';
import { TenantSheddingMiddleware } from './resolution/tenant-shedding.middleware';
import { TenantResolutionMiddleware } from './resolution/tenant-resolution.middleware';
import { SuperAdminGuard } from './resolution/super-admin.guard';
import { TenantResolver } from './resolution/tenant-resolver';
import { DatabaseStrategy } from './strategies/database.strategy';
import { IsolationStrategies } from './strategies/isolation-strategies';
import { SchemaStrategy } from './strategies/schema.strategy';
import { SharedStrategy } from './strategies/shared.strategy';
import { LocationFence } from './strategies/location-fence';
import { TenancyHostModule } from './tenancy-host.module';
import { NoisyNeighbours } from './usage/noisy-neighbours';
import { RecentLoad } from './usage/recent-load';
import { TenantStorage } from './usage/tenant-storage';
import { UsageLedger } from './usage/usage-ledger';
import { UsageReports } from './usage/usage-reports';
import { TenantKeyring } from './encryption/tenant-keyring';
import { TenantReencryption } from './lifecycle/tenant-reencryption';

/** How the module was registered (`isGlobal`, `cls`), for its own `configure`. */
const TENANCY_REGISTRATION = Symbol('nest-tenancy:registration');

/** One strategy instance per process: durable providers aggregate by tenant through it. */
export const tenantContextIdStrategy = new TenantContextIdStrategy();

/** Usage and cost per tenant, noisy neighbours, and the tenants' data keys: provided and exported alike. */
const USAGE_AND_ENCRYPTION = [UsageLedger, TenantStorage, RecentLoad, NoisyNeighbours, UsageReports, TenantKeyring, TenantReencryption];

const PROVIDERS: Provider[] = [
  TenantNaming,
  OwnerConnections,
  CitusMode,
  Deployment,
  ControlLocks,
  RuntimeRole,
  TenancyReadiness,
  DeploymentUpgrade,
  HomeDataSource,
  PoolRegistry,
  MigrationRunner,
  TenantMigrator,
  TenantCatalog,
  TenantAccess,
  SharedStrategy,
  LocationFence,
  SchemaStrategy,
  DatabaseStrategy,
  IsolationStrategies,
  rateLimitStoreProvider,
  TenantAdmission,
  UnitOfWorkFactory,
  UnitOfWorkScope,
  TenancyService,
  { provide: TenantDataSource, useExisting: SHARED_TENANT_DATA_SOURCE },
  ...tenantTypeOrmProviders(),
  TenantResolver,
  TenantSheddingMiddleware,
  TenantResolutionMiddleware,
  SuperAdminGuard,
  TenantProvisioner,
  MigrationLedger,
  TenantMigrations,
  TenantLifecycle,
  TenantInspector,
  TenantExporter,
  ExportFreshness,
  MoveJournal,
  SeedRecords,
  MoveRecovery,
  TenantMover,
  TenancyBootstrap,
  TenantActivity,
  PoolGauges,
  LifecycleProgressReader,
  ...USAGE_AND_ENCRYPTION,
  currentTenantProvider,
  TenantCacheableRoutes,
  TenantLifecycleHooks,
  tenantCacheStoreProvider,
  TenantCache,
  TenantResponseCache,
  currentStrategyProvider,
  currentTenantDataSourceProvider,
  { provide: APP_INTERCEPTOR, useClass: UnitOfWorkInterceptor },
];

/**
 * What the app may inject: the public API of index.ts, and the options (a symbol index.ts does not
 * export) that SuperAdminGuard needs wherever a module uses it.
 */
const EXPORTS = [
  TENANCY_OPTIONS,
  TenancyReadiness,
  TenancyService,
  TenantDataSource,
  TenantCatalog,
  TenantProvisioner,
  TenantMigrations,
  TenantLifecycle,
  TenantInspector,
  TenantExporter,
  TenantMover,
  SuperAdminGuard,
  PoolRegistry,
  TenantActivity,
  PoolGauges,
  LifecycleProgressReader,
  TenantCache,
  TenantResponseCache,
  TenantLifecycleHooks,
  ...USAGE_AND_ENCRYPTION,
  CURRENT_TENANT,
  CURRENT_STRATEGY,
  CURRENT_TENANT_DATA_SOURCE,
  TENANT_DATA_SOURCE_TOKEN,
  TENANT_ENTITY_MANAGER_TOKEN,
];

/**
 * Resolves each request's tenant, carries it in CLS and hands feature modules a tenant-aware
 * DataSource that works the same under the shared, schema and database models.
 *
 * `forRoot(options)` or `forRootAsync({ useFactory | useClass | useExisting, ... })` once, in the
 * root module; `forFeature([Entity, ...])` in each feature module for `@InjectTenantRepository`.
 */
@Module({})
export class TenancyModule implements NestModule, OnModuleInit {
  /**
   * The module with options known now. `isGlobal` and `cls`: see `TenancyModuleRegistration`.
   * @throws TenancyConfigError (at start) when an option is invalid.
   */
  static forRoot(options: TenancyModuleOptions & TenancyModuleRegistration): DynamicModule {
    const { isGlobal, cls, ownerDataSource, ...rest } = options;
    return TenancyModule.build({ isGlobal, cls, ownerDataSource }, [{ provide: TENANCY_MODULE_OPTIONS, useValue: rest }], [], []);
  }

  /**
   * The module with options computed at start from injected providers: `useFactory` (with
   * `inject`), `useClass` or `useExisting` (a `TenancyOptionsFactory`), exactly one of them.
   * @throws TenancyConfigError when none or more than one is given.
   */
  static forRootAsync(options: TenancyModuleAsyncOptions): DynamicModule {
    return TenancyModule.build(options, asyncOptionsProviders(options), options.imports ?? [], options.extraProviders ?? []);
  }

  /**
   * Tenant repositories in the importing module, for `@InjectTenantRepository(Entity)` and for
   * `@nestjs/typeorm`'s `@InjectRepository(Entity, TENANT_CONNECTION)` (one object under both
   * tokens), and the tenant DataSource and EntityManager for `@InjectDataSource(TENANT_CONNECTION)`
   * and `@InjectEntityManager(TENANT_CONNECTION)`: singletons bound to the current unit of work at
   * each call. The entities join the runtime DataSources' entities: they need not be listed in the
   * root options too. Works whether the root module is global or not. Entity classes only
   * (TypeError otherwise).
   */
  static forFeature(entities: EntityTarget<ObjectLiteral>[]): DynamicModule {
    const providers = [...tenantRepositoryProviders(entities), ...tenantTypeOrmProviders()];
    return { module: TenancyFeatureModule, providers, exports: providers };
  }

  private static build(
    registration: TenancyModuleRegistration,
    optionProviders: Provider[],
    imports: NonNullable<ModuleMetadata['imports']>,
    extraProviders: Provider[],
  ): DynamicModule {
    const cls = registration.cls ?? 'own';
    if (cls !== 'own' && cls !== 'app') throw new TenancyConfigError('TenancyModule', [`cls: '${String(cls)}' is not one of 'own', 'app'`]);
    return {
      module: TenancyModule,
      global: registration.isGlobal ?? true,
      imports: [
        ...imports,
        // No proxy providers are resolved per request: nestjs-cls does it with a module lookup
        // (require) on every request; an app that uses them passes cls: 'app'.
        cls === 'own' ? ClsModule.forRoot({ global: true, middleware: { mount: false, resolveProxyProviders: false } }) : ClsModule,
        TenancyHostModule.create(),
      ],
      providers: [
        { provide: TENANCY_REGISTRATION, useValue: { ...registration, cls } },
        { provide: OWNER_DATA_SOURCE, useValue: registration.ownerDataSource ?? null },
        ...extraProviders,
        ...optionProviders,
        {
          provide: TENANCY_OPTIONS,
          inject: [TENANCY_MODULE_OPTIONS],
          useFactory: (o: TenancyModuleOptions) => resolveTenancyOptions(checkTenancyOptions(o)),
        },
        ...PROVIDERS,
      ],
      exports: EXPORTS,
    };
  }

  constructor(
    private readonly catalog: TenantCatalog,
    private readonly admission: TenantAdmission,
    @Inject(TENANCY_REGISTRATION) private readonly registration: Required<Pick<TenancyModuleRegistration, 'cls'>>,
    @Inject(TENANCY_OPTIONS) options: ResolvedTenancyOptions,
    features: FeatureEntities,
    private readonly resolver: TenantResolver,
    private readonly recentLoad: RecentLoad,
    private readonly noisy: NoisyNeighbours,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    // Before any DataSource is initialized (onModuleInit), like the entities of forFeature.
    for (const entity of options.entities) features.register(entity);
  }

  onModuleInit(): void {
    ContextIdFactory.apply(tenantContextIdStrategy);
    this.pruneDurableTrees();
    this.catalog.events.on('change', (id: string) => this.pruneDurableTrees(id === '*' ? undefined : id));
    this.routeBeforeTheRouter();
  }

  /** The place (model and server) of each tenant as the catalog last said, to tell a move. */
  private readonly places = new Map<string, string>();

  /**
   * A deleted tenant's durable (per-tenant) instances, rate bucket, recent load and noisy state are
   * dropped with it (its usage counts not yet written: `UsageLedger.forget`); a moved
   * tenant's durable instances (its CURRENT_STRATEGY among them) are dropped, so they are rebuilt
   * for its new place. `id` undefined: the whole catalog was re-read.
   */
  private pruneDurableTrees(id?: string): void {
    const ids = id === undefined ? new Set([...this.places.keys(), ...this.catalog.list().map((t) => t.id)]) : [id];
    for (const tenantId of ids) {
      const record = this.catalog.get(tenantId);
      if (!record || record.status === 'deleting') {
        this.places.delete(tenantId);
        tenantContextIdStrategy.forget(tenantId);
        this.admission.forget(tenantId);
        this.recentLoad.forget(tenantId);
        this.noisy.forget(tenantId);
        continue;
      }
      const place = `${record.strategy}@${record.server}`;
      const before = this.places.get(tenantId);
      // One tenant's change with no place known before: dropped too, since nothing tells it did not move.
      if (before !== place && (before !== undefined || id !== undefined)) tenantContextIdStrategy.forget(tenantId);
      this.places.set(tenantId, place);
    }
  }

  /**
   * Fastify routes a request before Nest's middleware run (in an onRequest hook), so the path
   * prefix the resolution middleware strips would be stripped too late: the request is prepared
   * first, as Node's server hands it over (`TenantResolver.route`). Express routes after the
   * middleware and needs nothing.
   */
  private routeBeforeTheRouter(): void {
    if (!this.onFastify()) return;
    const server: Server = this.adapterHost!.httpAdapter.getHttpServer();
    server.prependListener('request', (req: IncomingMessage & { url: string }) => this.resolver.route(req));
  }

  /** Whether the app serves HTTP on Fastify (no HTTP adapter in a standalone application context). */
  private onFastify(): boolean {
    return this.adapterHost?.httpAdapter?.getType() === 'fastify';
  }

  configure(consumer: MiddlewareConsumer): void {
    // A tenant past its limits is shed first, before anything else runs; then the run-based
    // nestjs-cls middleware (never enterWith), and tenant resolution inside it. With cls: 'app',
    // the app's nestjs-cls middleware opens the context; when Nest runs it after ours, tenant
    // resolution opens one and the app's inherits it.
    // Every path: mounted at `/` on Express; Fastify matches `/` alone, so it takes a wildcard.
    const everyPath = this.onFastify() ? '{*path}' : '/';
    if (this.registration.cls === 'own')
      consumer.apply(TenantSheddingMiddleware, ClsMiddleware, TenantResolutionMiddleware).forRoutes(everyPath);
    else consumer.apply(TenantSheddingMiddleware, TenantResolutionMiddleware).forRoutes(everyPath);
  }
}

@Module({})
class TenancyFeatureModule {}

/** The providers that give `TENANCY_MODULE_OPTIONS` for `forRootAsync`'s one form. */
function asyncOptionsProviders(options: TenancyModuleAsyncOptions): Provider[] {
  const forms = [options.useFactory, options.useClass, options.useExisting].filter((f) => f !== undefined);
  if (forms.length !== 1) {
    throw new TenancyConfigError('TenancyModule.forRootAsync', [
      `give exactly one of useFactory, useClass or useExisting (${forms.length} given)`,
    ]);
  }
  const fromFactory = (factory: TenancyOptionsFactory) => factory.createTenancyOptions();
  if (options.useFactory) return [{ provide: TENANCY_MODULE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory }];
  if (options.useClass) {
    return [
      { provide: options.useClass, useClass: options.useClass },
      { provide: TENANCY_MODULE_OPTIONS, inject: [options.useClass], useFactory: fromFactory },
    ];
  }
  return [{ provide: TENANCY_MODULE_OPTIONS, inject: [options.useExisting!], useFactory: fromFactory }];
}
