import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { TenantContext } from './context/tenant-context';
import { SHARED_TENANT_DATA_SOURCE, TenantDataSource } from './context/tenant-data-source';
import { createTenantEntityManager, SHARED_TENANT_ENTITY_MANAGER } from './context/tenant-entity-manager';
import { FeatureEntities } from './connections/feature-entities';

/**
 * What `TenancyModule.forFeature` modules reach, global whatever `isGlobal` says: the entity
 * registry, the async context the tenant repositories read, and the one tenant DataSource and
 * EntityManager they stand on. None is public API by these tokens (the module re-provides the
 * DataSource as `TenantDataSource`, and `forFeature` both under `@nestjs/typeorm`'s tokens), so
 * being global exposes nothing an app could inject by a public name. One per `TenancyModule.forRoot*`.
 */
@Module({})
export class TenancyHostModule {
  static create(): DynamicModule {
    const providers: Provider[] = [
      TenantContext,
      FeatureEntities,
      { provide: SHARED_TENANT_DATA_SOURCE, useClass: TenantDataSource },
      { provide: SHARED_TENANT_ENTITY_MANAGER, inject: [SHARED_TENANT_DATA_SOURCE], useFactory: createTenantEntityManager },
    ];
    const exports = [TenantContext, FeatureEntities, SHARED_TENANT_DATA_SOURCE, SHARED_TENANT_ENTITY_MANAGER];
    return { module: TenancyHostModule, global: true, imports: [ClsModule], providers, exports };
  }
}
