import { Inject, Provider } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import type { TenantRecord } from '../core/tenant-record';
import { durableTenantProvider } from './durable-tenant-provider';

export const CURRENT_TENANT = Symbol('nest-tenancy:current-tenant');

/** The tenant a durable (per-tenant) provider was built for. `record` reads the catalog live. */
export class CurrentTenant {
  constructor(
    readonly id: string,
    private readonly catalog: TenantCatalog,
  ) {}

  get record(): TenantRecord | undefined {
    return this.catalog.get(this.id);
  }
}

/** `@InjectCurrentTenant() tenant: CurrentTenant` in a request-scoped or durable provider. */
export const InjectCurrentTenant = (): ParameterDecorator & PropertyDecorator => Inject(CURRENT_TENANT);

export const currentTenantProvider: Provider = durableTenantProvider(
  CURRENT_TENANT,
  [TenantCatalog],
  (tenantId, catalog: TenantCatalog) => new CurrentTenant(tenantId, catalog),
);
