import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { TenantNaming } from '../catalog/tenant-naming';
import { quoteIdent } from '../core/sql';
import type { TenantRecord } from '../core/tenant-record';
import { ControlLocks } from '../catalog/control-locks';
import { Deployment } from '../catalog/deployment';
import { OwnerConnections } from '../connections/owner-connections';
import { PoolRegistry } from '../pools/pool-registry';
import type { DataSourceLease } from '../connections/runtime-data-source';
import { RuntimeRole } from '../catalog/runtime-role';
import { TenantMigrator } from '../migrations/tenant-migrator';
import type { TransactionLimits } from '../config/tenancy-options';
import type { TenantLocation } from '../core/tenant-location';
import type { IsolationStrategy, PlacedTenant } from './isolation-strategy';
import { LocationFence } from './location-fence';
import { transactionPreamble } from './transaction-preamble';
import { renameUnkeyedDatabase } from './unkeyed-database';

const DATA_SCHEMA = 'public';

/**
 * Silo model: a database per tenant, possibly on another server, served by the tenant's own pool
 * from the registry. Only the owner and the runtime role may connect to it.
 */
@Injectable()
export class DatabaseStrategy implements IsolationStrategy {
  readonly model = 'database' as const;
  readonly takesServer = true;

  constructor(
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
    private readonly registry: PoolRegistry,
    private readonly role: RuntimeRole,
    private readonly migrator: TenantMigrator,
    private readonly deployment: Deployment,
    private readonly locks: ControlLocks,
    private readonly fences: LocationFence,
  ) {}

  location(tenant: Pick<TenantRecord, 'id' | 'server'>): TenantLocation {
    return { server: tenant.server, database: this.naming.databaseFor(tenant.id), schema: DATA_SCHEMA };
  }

  commonPlace(): undefined {
    return undefined;
  }

  ledgerTarget(tenant: Pick<TenantRecord, 'id'>): string {
    return tenant.id;
  }

  /**
   * Creates the tenant's database with this deployment's mark, or checks the mark of the one that
   * exists (never adopting one another deployment or anyone else made), lets only the runtime role
   * connect to it, and migrates it.
   * @throws DeploymentOwnershipError when the database exists without this deployment's mark.
   */
  async provision(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    const { server, database } = this.location(tenant);
    await this.role.ensureOn(server);
    // One provisioner of a database at a time (two concurrent CREATE DATABASE of one name fail with
    // a unique violation, and concurrent GRANTs on it with "tuple concurrently updated").
    await this.locks.withLock(`provision:${server}:${database}`, () =>
      this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
        await this.deployment.claimDatabase(ds, server, database);
        await ds.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
        await ds.query(`GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(this.role.name)}`);
      }),
    );
    await this.migrator.migrate(this.location(tenant), tenant.id);
  }

  async provisionCommon(): Promise<undefined> {
    return undefined;
  }

  /** Closes the tenant's idle pool and drops its database (sessions ended) when it is this deployment's. */
  async drop(tenant: PlacedTenant): Promise<void> {
    const { server, database } = this.location(tenant);
    if ((await this.deployment.checkDatabase(server, database)) === 'absent') return;
    await this.registry.closeIdle(tenant.id);
    await this.owner.withDatabase(server, this.owner.homeDatabase(server), (ds) =>
      ds.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
    );
  }

  /** `ds` is connected to the tenant's own database. */
  async sizeOf(_tenant: PlacedTenant, ds: DataSource): Promise<number> {
    return Number((await ds.query(`SELECT pg_database_size(current_database()) AS size`))[0].size);
  }

  /** One query a server that holds any of `tenants`. */
  async sizes(tenants: PlacedTenant[]): Promise<Map<string, number | null>> {
    const sizes = new Map<string, number>();
    for (const server of new Set(tenants.map((t) => t.server))) {
      await this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
        const rows: { name: string; size: string }[] = await ds.query(
          `SELECT datname AS name, pg_database_size(datname)::bigint AS size FROM pg_database WHERE starts_with(datname, $1)`,
          [this.naming.databaseStem],
        );
        for (const r of rows) sizes.set(`${server}/${r.name}`, Number(r.size));
      });
    }
    return new Map(tenants.map((t) => [t.id, sizes.get(`${t.server}/${this.naming.databaseFor(t.id)}`) ?? null]));
  }

  /** Each tenant's database gets its keyed name and the mark (see renameUnkeyedDatabase). */
  async adoptUnkeyed(tenants: TenantRecord[]): Promise<number> {
    let renamed = 0;
    for (const tenant of tenants) {
      await this.role.ensureOn(tenant.server);
      if (await renameUnkeyedDatabase(tenant, { naming: this.naming, owner: this.owner, deployment: this.deployment, role: this.role }))
        renamed++;
    }
    return renamed;
  }

  acquire(tenant: TenantRecord): Promise<DataSourceLease> {
    return this.registry.acquire(tenant);
  }

  preamble(tenant: Pick<TenantRecord, 'id'>, limits?: Required<TransactionLimits>): string {
    return transactionPreamble(tenant.id, DATA_SCHEMA, limits);
  }

  fence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    return this.fences.fence(this.location(tenant), tenant.id);
  }

  unfence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    return this.fences.unfence(this.location(tenant), tenant.id);
  }
}
