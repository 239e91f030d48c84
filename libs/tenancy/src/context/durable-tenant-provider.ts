import { FactoryProvider, InjectionToken, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import type { TenantDurablePayload } from './tenant-context-id.strategy';

/**
 * A durable request-scoped provider of `token`: built by `build(tenantId, ...deps)` once per tenant
 * (the module's ContextIdStrategy hands it the tenant as REQUEST), with `inject` (singletons) as
 * `deps`. Injected in a request without a tenant (an excluded path), it throws, naming the token.
 */
export function durableTenantProvider<T, D extends unknown[]>(
  token: symbol,
  inject: { [K in keyof D]: InjectionToken },
  build: (tenantId: string, ...deps: D) => T,
): FactoryProvider<T> {
  return {
    provide: token,
    scope: Scope.REQUEST,
    durable: true,
    inject: [REQUEST, ...inject],
    useFactory: (payload: TenantDurablePayload | undefined, ...deps: D) => {
      if (!payload?.tenantId)
        throw new Error(`${token.description ?? 'A per-tenant provider'} was injected in a request that has no tenant.`);
      return build(payload.tenantId, ...deps);
    },
  };
}
