import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { withDatabase } from './connection-url';
import { FeatureEntities } from './feature-entities';
import { OwnerConnections } from './owner-connections';
import { createRuntimeDataSource, DataSourceLease } from './runtime-data-source';
import { RuntimeRole } from './runtime-role';
import { TenantAdmission } from './tenant-admission';

/** The runtime pool on the home database, shared by every tenant of the shared and schema models. */
@Injectable()
export class HomeDataSource implements OnApplicationShutdown {
  private ds?: DataSource;
  private readonly lease: DataSourceLease;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly role: RuntimeRole,
    private readonly entities: FeatureEntities,
    private readonly admission: TenantAdmission,
  ) {
    const home = this;
    this.lease = {
      get dataSource() {
        return home.dataSource;
      },
      release: () => undefined,
    };
  }

  async init(): Promise<void> {
    if (this.ds) return;
    const credentials = await this.role.getCredentials();
    const url = withDatabase(this.options.databaseUrl, this.owner.homeDatabase(), credentials);
    const pool = { ...this.options.pool, acquireMillis: this.options.timeouts.acquireMillis, queryTimeoutMillis: clientQueryTimeout(this.options) };
    this.ds = await createRuntimeDataSource(url, this.entities.all(), pool, 'nest-tenancy').initialize();
  }

  get dataSource(): DataSource {
    if (!this.ds) throw new Error('The tenancy home DataSource is not initialized yet: the module has not finished starting.');
    return this.ds;
  }

  /** Leases of the home pool cost nothing: it is never evicted. */
  acquire(): DataSourceLease {
    return this.lease;
  }

  async onApplicationShutdown(): Promise<void> {
    // Requests still in flight (their clients gone, the HTTP server closed) end first.
    await this.admission.whenIdle(clientQueryTimeout(this.options));
    const ds = this.ds;
    this.ds = undefined;
    if (ds?.isInitialized) await ds.destroy();
  }
}
