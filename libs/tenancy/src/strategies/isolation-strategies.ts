import { Inject, Injectable } from '@nestjs/common';
import type { TenantRecord } from '../core/tenant-record';
import { IsolationModel, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { InvalidTenantDefinitionError } from '../errors/tenancy.errors';
import { DatabaseStrategy } from './database.strategy';
import type { IsolationStrategy } from './isolation-strategy';
import { SchemaStrategy } from './schema.strategy';
import { SharedStrategy } from './shared.strategy';

/** Where a tenant is served from: its model and (for a model that takes one) its server. */
export type TenantPlace = Pick<TenantRecord, 'strategy' | 'server'>;

/** The strategy of each model, looked up by the tenant's `strategy`. */
@Injectable()
export class IsolationStrategies {
  private readonly byModel: Record<IsolationModel, IsolationStrategy>;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    shared: SharedStrategy,
    schema: SchemaStrategy,
    database: DatabaseStrategy,
  ) {
    this.byModel = { shared, schema, database };
  }

  /** Every model's strategy. */
  all(): IsolationStrategy[] {
    return Object.values(this.byModel);
  }

  for(model: IsolationModel): IsolationStrategy {
    const strategy = this.byModel[model];
    if (!strategy) throw new Error(`unknown isolation model '${model}'`);
    return strategy;
  }

  /**
   * The place a tenant of `to.strategy` goes to: `to.server` (default `default`) for a model that
   * takes a server, `default` for the others.
   * @throws InvalidTenantDefinitionError when a server is named for a model that takes none, or the
   * server is not a key of the `servers` option.
   */
  placeOf(to: { strategy: IsolationModel; server?: string }): TenantPlace {
    const takesServer = this.for(to.strategy).takesServer;
    if (to.server !== undefined && !takesServer) {
      const models = this.all()
        .filter((s) => s.takesServer)
        .map((s) => s.model);
      throw new InvalidTenantDefinitionError(`Only the ${models.join(' and ')} model takes a server.`);
    }
    const server = takesServer ? (to.server ?? 'default') : 'default';
    if (!Object.hasOwn(this.options.servers, server)) {
      throw new InvalidTenantDefinitionError(`Unknown server '${server}'; known servers: ${Object.keys(this.options.servers).join(', ')}.`);
    }
    return { strategy: to.strategy, server };
  }

  /** Whether the tenant, served from `tenant.strategy`, has a migration ledger entry of its own (a place of its own). */
  hasOwnLedgerEntry(tenant: Pick<TenantRecord, 'id' | 'strategy'>): boolean {
    return this.for(tenant.strategy).ledgerTarget(tenant) === tenant.id;
  }

  /** The place in words: the model, and its server for a model that takes one (`database@eu`). */
  describe(place: TenantPlace): string {
    return this.for(place.strategy).takesServer ? `${place.strategy}@${place.server}` : place.strategy;
  }
}
