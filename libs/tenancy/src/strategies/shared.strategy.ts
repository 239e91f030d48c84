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
 * Pool model: every tenant's rows in one set of shared tables, told apart by `tenant_id` and kept
 * apart by forced row-level security on `app.tenant_id`.
 */
@Injectable()
export class SharedStrategy implements IsolationStrategy {
  readonly model = 'shared' as const;
  private migrated?: Promise<unknown>;

  constructor(
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
    private readonly home: HomeDataSource,
    private readonly migrator: TenantMigrator,
    private readonly deployment: Deployment,
    private readonly fences: LocationFence,
  ) {}

  location(): TenantLocation {
    return { server: 'default', database: this.owner.homeDatabase(), schema: this.naming.sharedSchema };
  }

  /** The shared tables are migrated once per process; a tenant needs nothing of its own. */
  provision(): Promise<void> {
    this.migrated ??= (async () => {
      await this.deployment.claimSchema(this.naming.sharedSchema);
      await this.migrator.migrate(this.location());
    })().catch((err) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated.then(() => undefined);
  }

  async acquire(): Promise<DataSourceLease> {
    return this.home.acquire();
  }

  preamble(tenant: Pick<TenantRecord, 'id'>, limits?: Required<TransactionLimits>): string {
    return transactionPreamble(tenant.id, this.naming.sharedSchema, limits);
  }

  fence(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    return this.fences.fence(this.location(), tenant.id);
  }

  unfence(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    return this.fences.unfence(this.location(), tenant.id);
  }
}
