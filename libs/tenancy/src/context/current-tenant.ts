import { Inject, Provider, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { TenantCatalog } from '../catalog/tenant-catalog';
import type { TenantRecord } from '../core/tenant-record';
import type { TenantDurablePayload } from './tenant-context-id.strategy';

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

export const currentTenantProvider: Provider = {
  provide: CURRENT_TENANT,
  scope: Scope.REQUEST,
  durable: true,
  inject: [REQUEST, TenantCatalog],
  useFactory: (payload: TenantDurablePayload, catalog: TenantCatalog) => {
    if (!payload?.tenantId) throw new Error('CURRENT_TENANT was injected in a request that has no tenant.');
    return new CurrentTenant(payload.tenantId, catalog);
  },
};
