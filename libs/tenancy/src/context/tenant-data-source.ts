import { Injectable } from '@nestjs/common';
import type { EntityManager, EntityTarget, ObjectLiteral, QueryRunner, Repository, SelectQueryBuilder } from 'typeorm';
import type { TenantRecord } from '../core/tenant-record';
import type { UnitOfWork } from '../data-source/unit-of-work';
import { TenantContext } from './tenant-context';

/**
 * The one TenantDataSource of a `TenancyModule.forRoot*`, provided by its always-global host: the
 * module's `TenantDataSource`, the `tenantDataSource` token of `@nestjs/typeorm` and every tenant
 * repository stand on this instance, whether or not the module is global.
 */
export const SHARED_TENANT_DATA_SOURCE = Symbol('nest-tenancy:shared-tenant-data-source');

/**
 * The tenant-aware DataSource feature code injects. A singleton: each call reaches the unit of
 * work of the current request (or `TenancyService.run`), whatever the tenant's model. With no tenant
 * in context every call throws NoTenantContextError before anything reaches the database.
 */
@Injectable()
export class TenantDataSource {
  constructor(protected readonly context: TenantContext) {}

  /** The unit of work every member reaches (a NoTenantContextError outside a tenant context). */
  protected unitOfWork(): UnitOfWork {
    return this.context.requireUnitOfWork();
  }

  /** The current tenant (throws outside a tenant context). */
  get tenant(): TenantRecord {
    return this.unitOfWork().tenant;
  }

  /** The EntityManager bound to the current unit of work's transaction. */
  get manager(): EntityManager {
    return this.unitOfWork().manager;
  }

  getRepository<E extends ObjectLiteral>(target: EntityTarget<E>): Repository<E> {
    return this.manager.getRepository(target);
  }

  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T> {
    return this.manager.query(sql, parameters);
  }

  createQueryBuilder<E extends ObjectLiteral>(target: EntityTarget<E>, alias: string): SelectQueryBuilder<E> {
    return this.manager.createQueryBuilder(target, alias);
  }

  /** A nested transaction (a savepoint inside the request's transaction). */
  transaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.manager.transaction(fn);
  }

  /** The query runner of the unit of work, for raw driver access in the tenant's transaction. */
  get queryRunner(): QueryRunner {
    return this.unitOfWork().queryRunner();
  }
}
