import { EntityManager } from 'typeorm';
import type { TenantDataSource } from './tenant-data-source';

/** The one tenant EntityManager proxy of a `TenancyModule.forRoot*`, provided by its always-global host. */
export const SHARED_TENANT_ENTITY_MANAGER = Symbol('nest-tenancy:shared-tenant-entity-manager');

/** Instance fields of EntityManager read as data (not bound): the unit's DataSource and query runner, TypeORM's type mark. */
const PASSTHROUGH = new Set<PropertyKey>(['dataSource', 'queryRunner', '@instanceof']);

/**
 * A singleton proxy standing for the EntityManager of the current unit of work (what
 * `@InjectEntityManager(TENANT_CONNECTION)` injects): each member is read from the current unit's
 * manager at call time and methods are bound to it, so one instance serves every tenant and every
 * model. Outside a tenant context any member throws NoTenantContextError; anything that is no
 * member of EntityManager reads as undefined (Nest's lifecycle probes, `then` checks).
 */
export function createTenantEntityManager(dataSource: TenantDataSource): EntityManager {
  return new Proxy(Object.create(EntityManager.prototype), {
    get(_target, prop) {
      if (prop === 'constructor') return EntityManager;
      if (typeof prop === 'symbol' || !(prop in EntityManager.prototype || PASSTHROUGH.has(prop))) return undefined;
      const manager = dataSource.manager;
      const value = Reflect.get(manager, prop, manager);
      return typeof value === 'function' && !PASSTHROUGH.has(prop) ? value.bind(manager) : value;
    },
    set() {
      throw new Error('The tenant EntityManager cannot be modified.');
    },
  }) as EntityManager;
}
