import { Injectable } from '@nestjs/common';
import { Deployment } from '../catalog/deployment';
import { TenantNaming } from '../catalog/tenant-naming';
import type { TenantRecord } from '../catalog/tenant-record';
import { HomeDataSource } from '../data-source/home-data-source';
import { OwnerConnections } from '../data-source/owner-connections';
import type { DataSourceLease } from '../data-source/runtime-data-source';
import { TenantMigrator } from '../migrations/tenant-migrator';
import type { TransactionLimits } from '../config/tenancy-options';
import type { TenantLocation } from '../catalog/tenant-location';
import type { IsolationStrategy } from './isolation-strategy';
import { LocationFence } from './location-fence';
import { transactionPreamble } from './transaction-preamble';

/**
 * Bridge model: a schema per tenant in the home database, reached through the one shared pool with
 * `search_path` set for each transaction. Row-level security stays on underneath as a second wall.
 */
@Injectable()
export class SchemaStrategy implements IsolationStrategy {
  readonly model = 'schema' as const;

  constructor(
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
    private readonly home: HomeDataSource,
    private readonly migrator: TenantMigrator,
    private readonly deployment: Deployment,
    private readonly fences: LocationFence,
  ) {}

  location(tenant: Pick<TenantRecord, 'id'>): TenantLocation {
    return { server: 'default', database: this.owner.homeDatabase(), schema: this.naming.schemaFor(tenant.id) };
  }

  /**
   * Creates the tenant's schema with this deployment's mark (or checks the mark of the one that
   * exists) and migrates it.
   * @throws DeploymentOwnershipError when the schema exists without this deployment's mark.
   */
  async provision(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    await this.deployment.claimSchema(this.naming.schemaFor(tenant.id));
    await this.migrator.migrate(this.location(tenant), tenant.id);
  }

  async acquire(): Promise<DataSourceLease> {
    return this.home.acquire();
  }

  preamble(tenant: Pick<TenantRecord, 'id'>, limits?: Required<TransactionLimits>): string {
    return transactionPreamble(tenant.id, this.naming.schemaFor(tenant.id), limits);
  }

  fence(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    return this.fences.fence(this.location(tenant), tenant.id);
  }

  unfence(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    return this.fences.unfence(this.location(tenant), tenant.id);
  }
}
