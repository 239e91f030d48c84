import { Inject, Provider } from '@nestjs/common';
import type { UnitOfWork } from '../data-source/unit-of-work';
import { TenantScopeMismatchError } from '../errors/tenancy.errors';
import { TenantContext } from './tenant-context';
import { durableTenantProvider } from './durable-tenant-provider';
import { TenantDataSource } from './tenant-data-source';

/**
 * The current tenant's DataSource as a durable request-scoped provider: one instance per tenant
 * (built on the tenant's first request through the module's ContextIdStrategy, dropped when the
 * tenant is deleted or moved), for feature code that wants Nest's request scope. It works in the
 * request's unit of work as the singleton `TenantDataSource` does, and refuses any other tenant's.
 */
export const CURRENT_TENANT_DATA_SOURCE = Symbol('nest-tenancy:current-tenant-data-source');

/** `@InjectCurrentTenantDataSource() data: TenantDataSource` in a request-scoped provider or controller. */
export const InjectCurrentTenantDataSource = (): ParameterDecorator & PropertyDecorator => Inject(CURRENT_TENANT_DATA_SOURCE);

/** A TenantDataSource bound to one tenant: each member checks the unit of work is that tenant's. */
export class TenantBoundDataSource extends TenantDataSource {
  constructor(
    context: TenantContext,
    /** The tenant this instance was built for. */
    readonly tenantId: string,
  ) {
    super(context);
  }

  /** @throws TenantScopeMismatchError in another tenant's unit of work (before any query). */
  protected override unitOfWork(): UnitOfWork {
    const unit = super.unitOfWork();
    if (unit.tenant.id !== this.tenantId) throw new TenantScopeMismatchError(this.tenantId, unit.tenant.id);
    return unit;
  }
}

export const currentTenantDataSourceProvider: Provider = durableTenantProvider(
  CURRENT_TENANT_DATA_SOURCE,
  [TenantContext],
  (tenantId, context: TenantContext) => new TenantBoundDataSource(context, tenantId),
);
