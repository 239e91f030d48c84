// Public API of nest-tenancy: what a feature module and an operator need. Anything not exported
// here is internal and may change without notice.

// The module and its options.
export { TenancyModule } from './tenancy.module';
export type { TenancyModuleAsyncOptions, TenancyModuleRegistration, TenancyOptionsFactory } from './config/tenancy-module-options';
export { ISOLATION_MODELS } from './config/tenancy-options';
export type {
  IsolationModel,
  JwtResolutionOptions,
  RateLimit,
  RateLimitStoreOptions,
  ResolutionOptions,
  TenantCacheOptions,
  TenancyModuleOptions,
  TenantDefinition,
  TenantsDefinition,
  TierDefinition,
  TransactionLimits,
  UnitPrices,
  UsageOptions,
} from './config/tenancy-options';
export { DEFAULT_UNIT_PRICES, pricesFor } from './config/tenancy-options';
export type { ResolverName, TenantRequest, TenantSource } from './config/tenant-source';
export { loadTenantsFile, validateTenantsDefinition, parseServerList, type ConfigNames } from './config/tenants-file';

// Errors: typed, each with its HTTP status; the filter turns them into `{statusCode, error, message}`.
export * from './errors/tenancy.errors';
export { TenancyExceptionFilter } from './errors/tenancy-exception.filter';

// Feature code: the tenant's unit of work, repositories, request-scoped (durable) tenant, strategy and DataSource, caching.
export { TenancyService } from './context/tenancy.service';
export { CurrentTenant, CURRENT_TENANT, InjectCurrentTenant } from './context/current-tenant';
export { CURRENT_STRATEGY, InjectCurrentStrategy } from './context/current-strategy';
export { CURRENT_TENANT_DATA_SOURCE, InjectCurrentTenantDataSource } from './context/current-tenant-data-source';
export { TenantDataSource } from './context/tenant-data-source';
export { InjectTenantRepository, getTenantRepositoryToken } from './context/tenant-repository';
// With @nestjs/typeorm: @InjectRepository(Entity, TENANT_CONNECTION), @InjectDataSource(TENANT_CONNECTION).
export { TENANT_CONNECTION } from './context/typeorm-tokens';
export { TenantCacheable, type TenantCacheableOptions } from './context/tenant-cacheable';
// The tenant cache: keys scoped by deployment and tenant, emptied by delete, move and suspend.
export { TenantCache } from './cache/tenant-cache';
export { TenantResponseCache, type ResponseCachePolicy } from './cache/response-cache';
export { VERIFIED_JWT } from './resolution/jwt.source';
export { isValidTenantId, TENANT_ID_PATTERN } from './core/tenant-id';
export { errorMessage } from './core/error-message';

// Tenant migrations: tables that isolate tenants in every model.
export { tenantTable, createTenantTable, TenantTableSpec, TenantForeignKey, TENANT_SETTING_EXPRESSION } from './migrations/tenant-table';
export type { UnsafeTenantObject } from './migrations/tenant-table-audit';

// Operators: the catalog, the tenant lifecycle, readiness and pool figures, the admin guard.
export { TenantCatalog } from './catalog/tenant-catalog';
export type { TenantRecord, TenantStatus } from './core/tenant-record';
export type { TenantLocation } from './core/tenant-location';
export type { IsolationStrategy } from './strategies/isolation-strategy';
export { TenantProvisioner } from './lifecycle/tenant-provisioner';
export {
  TenantMigrations,
  MigrationOutcome,
  MigrationRunReport,
  MigrationStatusRow,
  MigrationRunOptions,
} from './lifecycle/tenant-migrations';
export { SHARED_TARGET } from './migrations/migration-ledger';
// Citus mode (option `citus`) and the tenant_id predicate (option `tenantPredicate`).
export { CitusMode } from './connections/citus-mode';
export { TENANT_COLUMN } from './data-source/tenant-predicate';
export { TenantLifecycle } from './lifecycle/tenant-lifecycle';
export { TenantLifecycleHooks, type TenantLifecycleEvent, type TenantLifecycleListener } from './catalog/tenant-lifecycle-hooks';
export { TenantInspector, TenantSummary, TenantDetails } from './lifecycle/tenant-inspector';
export { TenantExporter } from './lifecycle/tenant-exporter';
export { TenantMover, MoveReport, MoveState, MovePhase, MoveVerificationError } from './lifecycle/move/tenant-mover';
export { TenancyReadiness } from './pools/tenancy-readiness';
export { PoolRegistry, PoolRegistryStats } from './pools/pool-registry';
export { SuperAdminGuard, SUPER_ADMIN_ROLE } from './resolution/super-admin.guard';

// Observability: what a logger, a metrics collector or a tracer needs, without depending on any.
export { tenantLogFields, type TenantLogFields } from './context/tenant-log-fields';
export { tenantRequestInfo, type TenantRequestInfo } from './context/request-tenant';
export { TenantActivity, type TenantActivitySample, type TenantLoad } from './context/tenant-activity';
export { PoolGauges, type PoolGauge } from './pools/pool-gauges';
export { LifecycleProgressReader, type LifecycleProgress } from './lifecycle/lifecycle-progress';

// Usage and cost per tenant, noisy neighbours.
export { UsageLedger, type UsageTotals, type UsagePoint } from './usage/usage-ledger';
export { TenantStorage } from './usage/tenant-storage';
export { RecentLoad, MAX_WINDOW_SECONDS, type WindowLoad } from './usage/recent-load';
export { NoisyNeighbours, type NoisyReport, type NoisyTenant, type NoisyChange } from './usage/noisy-neighbours';
export {
  UsageReports,
  MINUTE_STEP_MAX_MILLIS,
  type UsagePeriod,
  type UsageReport,
  type TenantUsage,
  type TenantUsageSeries,
  type TenantLiveFigures,
} from './usage/usage-reports';
export { estimateCost, HOURS_PER_MONTH, BYTES_PER_GB, type UsageCost, type UsageFigures } from './usage/usage-cost';
// Encryption: per-tenant data keys under a key-encryption key, encrypted columns, blind indexes, rotation.
export type { EncryptionOptions } from './config/tenancy-options';
export * from './errors/encryption.errors';
export type { KeyProvider, DataKeyContext, WrappedDataKey } from './core/key-provider';
export { LocalKeyProvider } from './encryption/local-key-provider';
export { EncryptedColumn, blindIndex, type EncryptedColumnOptions } from './encryption/encrypted-column';
export { TenantKeyring } from './encryption/tenant-keyring';
export type { TenantDataKeys } from './encryption/tenant-data-keys';
export { TenantReencryption, type ReencryptionReport } from './lifecycle/tenant-reencryption';
export { decryptValue, keyVersionOf, type ValueContext } from './encryption/value-cipher';
