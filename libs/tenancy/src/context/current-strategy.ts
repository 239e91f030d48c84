import { Inject, Provider } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { UnknownTenantError } from '../errors/tenancy.errors';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import type { IsolationStrategy } from '../strategies/isolation-strategy';
import { durableTenantProvider } from './durable-tenant-provider';

/**
 * The current tenant's isolation strategy (its model's `IsolationStrategy`) as a durable
 * request-scoped provider: resolved once per tenant through the module's ContextIdStrategy, from
 * the catalog, and rebuilt after the tenant moves to another model or server (its durable sub-tree
 * is dropped on the catalog's change). Feature code never needs it to query (the tenant DataSource
 * and repositories are the same for every model); it is there for code that reports or branches on
 * the model (`strategy.model`, `strategy.takesServer`).
 */
export const CURRENT_STRATEGY = Symbol('nest-tenancy:current-strategy');

/** `@InjectCurrentStrategy() strategy: IsolationStrategy` in a request-scoped provider or controller. */
export const InjectCurrentStrategy = (): ParameterDecorator & PropertyDecorator => Inject(CURRENT_STRATEGY);

export const currentStrategyProvider: Provider = durableTenantProvider(
  CURRENT_STRATEGY,
  [TenantCatalog, IsolationStrategies],
  (tenantId, catalog: TenantCatalog, strategies: IsolationStrategies): IsolationStrategy => {
    const record = catalog.get(tenantId);
    // Resolution answered 404 before for an unknown tenant: this is one deleted since.
    if (!record) throw new UnknownTenantError(tenantId);
    return strategies.for(record.strategy);
  },
);
