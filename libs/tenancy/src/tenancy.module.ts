import { DynamicModule, MiddlewareConsumer, Module, ModuleMetadata, NestModule, OnModuleInit, Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, ContextIdFactory } from '@nestjs/core';
import { ClsMiddleware, ClsModule } from 'nestjs-cls';
import type { EntityTarget, ObjectLiteral } from 'typeorm';
import { ControlLocks } from './catalog/control-locks';
import { Deployment } from './catalog/deployment';
import { TenantAccess } from './catalog/tenant-access';
import { TenantCatalog } from './catalog/tenant-catalog';
import { TenantNaming } from './catalog/tenant-naming';
import { resolveTenancyOptions, TENANCY_MODULE_OPTIONS, TENANCY_OPTIONS, TenancyModuleOptions } from './config/tenancy-options';
import { currentTenantProvider, CURRENT_TENANT } from './context/current-tenant';
import { TenancyService } from './context/tenancy.service';
import { TenantContext } from './context/tenant-context';
import { TenantContextIdStrategy } from './context/tenant-context-id.strategy';
import { UnitOfWorkScope } from './context/unit-of-work-scope';
import { FeatureEntities } from './data-source/feature-entities';
import { HomeDataSource } from './data-source/home-data-source';
import { OwnerConnections } from './data-source/owner-connections';
import { PoolRegistry } from './data-source/pool-registry';
import { RuntimeRole } from './data-source/runtime-role';
import { TenancyReadiness } from './data-source/tenancy-readiness';
import { TenantDataSource } from './data-source/tenant-data-source';
import { tenantRepositoryProviders } from './data-source/tenant-repository';
import { TenantAdmission } from './data-source/tenant-admission';
import { UnitOfWorkFactory } from './data-source/unit-of-work-factory';
import { UnitOfWorkInterceptor } from './data-source/unit-of-work.interceptor';
import { TenantCacheInterceptor } from './resolution/tenant-cacheable';
import { DeploymentUpgrade } from './lifecycle/deployment-upgrade';
import { MigrationRunner } from './lifecycle/migration-runner';
import { TenancyBootstrap } from './lifecycle/tenancy-bootstrap';
import { TenantMigrator } from './lifecycle/tenant-migrator';
import { MigrationLedger } from './lifecycle/migration-ledger';
import { TenantExporter } from './lifecycle/tenant-exporter';
import { TenantInspector } from './lifecycle/tenant-inspector';
import { TenantLifecycle } from './lifecycle/tenant-lifecycle';
import { TenantMigrations } from './lifecycle/tenant-migrations';
import { TenantMover } from './lifecycle/tenant-mover';
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

export interface TenancyModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: any[];
  useFactory: (...args: any[]) => TenancyModuleOptions | Promise<TenancyModuleOptions>;
}

/** One strategy instance per process: durable providers aggregate by tenant through it. */
export const tenantContextIdStrategy = new TenantContextIdStrategy();

const PROVIDERS: Provider[] = [
  FeatureEntities,
  TenantNaming,
  OwnerConnections,
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
  TenantAdmission,
  UnitOfWorkFactory,
  TenantContext,
  UnitOfWorkScope,
  TenancyService,
  TenantDataSource,
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
  TenantMover,
  TenancyBootstrap,
  currentTenantProvider,
  // Outside the unit of work's interceptor: a cacheable answer is marked only once its commit succeeded.
  { provide: APP_INTERCEPTOR, useClass: TenantCacheInterceptor },
  { provide: APP_INTERCEPTOR, useClass: UnitOfWorkInterceptor },
];

const EXPORTS = [
  TENANCY_OPTIONS,
  TenancyReadiness,
  FeatureEntities,
  TenancyService,
  TenantDataSource,
  TenantContext,
  TenantCatalog,
  TenantProvisioner,
  TenantMigrations,
  TenantLifecycle,
  TenantInspector,
  TenantExporter,
  TenantMover,
  SuperAdminGuard,
  TenantNaming,
  IsolationStrategies,
  PoolRegistry,
  OwnerConnections,
  CURRENT_TENANT,
];

/**
 * Resolves each request's tenant, carries it in CLS and hands feature modules a tenant-aware
 * DataSource that works the same under the shared, schema and database models.
 */
@Module({})
export class TenancyModule implements NestModule, OnModuleInit {
  static forRoot(options: TenancyModuleOptions): DynamicModule {
    return TenancyModule.build([{ provide: TENANCY_OPTIONS, useValue: resolveTenancyOptions(options) }], []);
  }

  static forRootAsync(options: TenancyModuleAsyncOptions): DynamicModule {
    return TenancyModule.build(
      [
        { provide: TENANCY_MODULE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        { provide: TENANCY_OPTIONS, inject: [TENANCY_MODULE_OPTIONS], useFactory: resolveTenancyOptions },
      ],
      options.imports ?? [],
    );
  }

  /**
   * Tenant repositories for `@InjectTenantRepository(Entity)` in the importing module. The entities
   * join the runtime DataSources' entities: they need not be listed in the root options too.
   */
  static forFeature(entities: EntityTarget<ObjectLiteral>[]): DynamicModule {
    const providers = tenantRepositoryProviders(entities);
    return { module: TenancyFeatureModule, providers, exports: providers };
  }

  private static build(optionProviders: Provider[], imports: ModuleMetadata['imports']): DynamicModule {
    return {
      module: TenancyModule,
      global: true,
      imports: [...(imports ?? []), ClsModule.forRoot({ global: true, middleware: { mount: false } })],
      providers: [...optionProviders, ...PROVIDERS],
      exports: EXPORTS,
    };
  }

  constructor(
    private readonly catalog: TenantCatalog,
    private readonly admission: TenantAdmission,
  ) {}

  onModuleInit(): void {
    ContextIdFactory.apply(tenantContextIdStrategy);
    // A deleted tenant's durable (per-tenant) instances and rate bucket are dropped with it.
    this.catalog.events.on('change', (id: string) => {
      if (id === '*' || this.catalog.get(id)) return;
      tenantContextIdStrategy.forget(id);
      this.admission.forget(id);
    });
  }

  configure(consumer: MiddlewareConsumer): void {
    // A tenant past its limits is shed first, before anything else runs; then the run-based
    // nestjs-cls middleware (never enterWith), and tenant resolution inside it.
    consumer.apply(TenantSheddingMiddleware, ClsMiddleware, TenantResolutionMiddleware).forRoutes('/');
  }
}

@Module({})
class TenancyFeatureModule {}
