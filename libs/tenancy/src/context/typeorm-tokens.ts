import type { Provider } from '@nestjs/common';
import type { EntityTarget, ObjectLiteral } from 'typeorm';
import { SHARED_TENANT_ENTITY_MANAGER } from './tenant-entity-manager';
import { SHARED_TENANT_DATA_SOURCE } from './tenant-data-source';

/**
 * The connection name the tenant's repositories, DataSource and EntityManager go by for
 * `@nestjs/typeorm`'s decorators and token helpers: `@InjectRepository(User, TENANT_CONNECTION)`,
 * `@InjectDataSource(TENANT_CONNECTION)`, `@InjectEntityManager(TENANT_CONNECTION)`,
 * `getRepositoryToken(User, TENANT_CONNECTION)`. What they inject is the library's own (bound to the
 * current tenant's unit of work), provided by `TenancyModule.forFeature`; no `TypeOrmModule`
 * registration may use this name.
 */
export const TENANT_CONNECTION = 'tenant';

/** `getDataSourceToken(TENANT_CONNECTION)` of `@nestjs/typeorm` (12.x): `tenantDataSource`. */
export const TENANT_DATA_SOURCE_TOKEN = `${TENANT_CONNECTION}DataSource`;

/** `getEntityManagerToken(TENANT_CONNECTION)` of `@nestjs/typeorm` (12.x): `tenantEntityManager`. */
export const TENANT_ENTITY_MANAGER_TOKEN = `${TENANT_CONNECTION}EntityManager`;

/**
 * `getRepositoryToken(entity, TENANT_CONNECTION)` of `@nestjs/typeorm` (12.x) for an entity class:
 * `tenant_<ClassName>Repository`. Computed here, so the library never loads `@nestjs/typeorm` (an
 * optional peer); test/nestjs-typeorm.e2e checks the two agree.
 * @throws TypeError for anything but an entity class (as `forFeature` takes only classes).
 */
export function tenantTypeOrmRepositoryToken(entity: EntityTarget<ObjectLiteral>): string {
  if (typeof entity !== 'function') {
    throw new TypeError(`TenancyModule.forFeature and the entities option take entity classes; '${String(entity)}' is not one.`);
  }
  return `${TENANT_CONNECTION}_${entity.name}Repository`;
}

/**
 * The tenant DataSource and EntityManager under `@nestjs/typeorm`'s tokens for TENANT_CONNECTION:
 * the module's own singletons (the DataSource is the object `TenantDataSource` injects), bound to
 * the current unit of work at each call.
 */
export function tenantTypeOrmProviders(): Provider[] {
  return [
    { provide: TENANT_DATA_SOURCE_TOKEN, useExisting: SHARED_TENANT_DATA_SOURCE },
    { provide: TENANT_ENTITY_MANAGER_TOKEN, useExisting: SHARED_TENANT_ENTITY_MANAGER },
  ];
}
