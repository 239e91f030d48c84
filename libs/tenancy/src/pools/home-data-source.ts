import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { withDatabase } from '../core/connection-url';
import { FeatureEntities } from '../connections/feature-entities';
import { OwnerConnections } from '../connections/owner-connections';
import { createRuntimeDataSource, DataSourceLease } from '../connections/runtime-data-source';
import { RuntimeRole } from '../catalog/runtime-role';

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
  ) {
    const current = () => this.dataSource;
    this.lease = {
      get dataSource() {
        return current();
      },
      release: () => undefined,
    };
  }

  async init(): Promise<void> {
    if (this.ds) return;
    const credentials = await this.role.getCredentials();
    const url = withDatabase(this.options.databaseUrl, this.owner.homeDatabase(), credentials);
    const pool = {
      ...this.options.pool,
      acquireMillis: this.options.timeouts.acquireMillis,
      queryTimeoutMillis: clientQueryTimeout(this.options),
    };
    this.ds = await createRuntimeDataSource(url, this.entities.all(), pool, 'nest-tenancy').initialize();
  }

  get dataSource(): DataSource {
    if (!this.ds) throw new Error('The tenancy home DataSource is not initialized yet: the module has not finished starting.');
    return this.ds;
  }

  /** Connections of the home pool now: open (in use and idle), idle, and callers waiting for one. Zeros before start. */
  stats(): { open: number; idle: number; waiting: number } {
    const pool = (this.ds?.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } } | undefined)
      ?.master;
    return { open: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
  }

  /** Leases of the home pool cost nothing: it is never evicted. */
  acquire(): DataSourceLease {
    return this.lease;
  }

  async onApplicationShutdown(): Promise<void> {
    const ds = this.ds;
    this.ds = undefined;
    if (ds?.isInitialized) await ds.destroy();
  }
}
