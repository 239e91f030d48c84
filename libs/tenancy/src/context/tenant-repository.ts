import { Inject, Provider } from '@nestjs/common';
import { EntityTarget, ObjectLiteral, Repository } from 'typeorm';
import { FeatureEntities } from '../connections/feature-entities';
import { SHARED_TENANT_DATA_SOURCE, TenantDataSource } from './tenant-data-source';
import { tenantTypeOrmRepositoryToken } from './typeorm-tokens';

const TOKENS = new Map<unknown, string>();

export function getTenantRepositoryToken(entity: EntityTarget<ObjectLiteral>): string {
  let token = TOKENS.get(entity);
  if (!token) {
    const name = typeof entity === 'function' ? entity.name : String((entity as { name?: string }).name ?? entity);
    token = `TenantRepository<${name}>#${TOKENS.size}`;
    TOKENS.set(entity, token);
  }
  return token;
}

/** Injects a Repository<E> that always works in the current tenant's unit of work. */
export const InjectTenantRepository = (entity: EntityTarget<ObjectLiteral>): ParameterDecorator & PropertyDecorator =>
  Inject(getTenantRepositoryToken(entity));

const PASSTHROUGH = new Set<PropertyKey>(['manager', 'metadata', 'target', 'queryRunner']);

/**
 * A singleton proxy standing for `manager.getRepository(entity)` of the current unit of work. Only
 * members of Repository resolve (anything else reads as undefined, so Nest's lifecycle probes and
 * `then` checks see a plain object), and each one is bound at call time, so one instance serves
 * every tenant and every model.
 */
export function createTenantRepository<E extends ObjectLiteral>(dataSource: TenantDataSource, entity: EntityTarget<E>): Repository<E> {
  return new Proxy(Object.create(Repository.prototype), {
    get(_target, prop) {
      if (prop === 'constructor') return Repository;
      if (typeof prop === 'symbol' || !(prop in Repository.prototype || PASSTHROUGH.has(prop))) return undefined;
      const repository = dataSource.getRepository(entity);
      const value = Reflect.get(repository, prop, repository);
      // Methods are bound to the current unit's repository; `target` (an entity class) is data, not a method.
      return typeof value === 'function' && !PASSTHROUGH.has(prop) ? value.bind(repository) : value;
    },
    set() {
      throw new Error('A tenant repository cannot be modified.');
    },
  }) as Repository<E>;
}

/**
 * Two providers per entity: the repository under `getTenantRepositoryToken(entity)` (building it
 * registers the entity with the runtime DataSources), and the same object under the token of
 * `@nestjs/typeorm`'s `getRepositoryToken(entity, TENANT_CONNECTION)`. They need only the module's
 * global host (the shared TenantDataSource and the entity registry), so they work whether or not
 * TenancyModule is global.
 */
export function tenantRepositoryProviders(entities: EntityTarget<ObjectLiteral>[]): Provider[] {
  return entities.flatMap((entity): Provider[] => {
    const repository: Provider = {
      provide: getTenantRepositoryToken(entity),
      inject: [SHARED_TENANT_DATA_SOURCE, FeatureEntities],
      useFactory: (dataSource: TenantDataSource, features: FeatureEntities) => {
        features.register(entity);
        return createTenantRepository(dataSource, entity);
      },
    };
    // Anything but a class fails in the factory above (FeatureEntities.register), with its message.
    if (typeof entity !== 'function') return [repository];
    return [repository, { provide: tenantTypeOrmRepositoryToken(entity), useExisting: getTenantRepositoryToken(entity) }];
  });
}
