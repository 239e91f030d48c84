import { Injectable } from '@nestjs/common';
import { quoteIdent, TenantNaming } from '../catalog/tenant-naming';
import type { TenantRecord } from '../catalog/tenant-record';
import { withAdvisoryLock } from '../data-source/advisory-lock';
import { OwnerConnections } from '../data-source/owner-connections';
import { PoolRegistry } from '../data-source/pool-registry';
import type { DataSourceLease } from '../data-source/runtime-data-source';
import { RuntimeRole } from '../data-source/runtime-role';
import { pgErrorCode } from '../errors/pg-error-code';
import { TenantMigrator } from '../lifecycle/tenant-migrator';
import type { IsolationStrategy, TenantLocation } from './isolation-strategy';
import { LocationFence } from './location-fence';
import { transactionPreamble } from './transaction-preamble';

const DATA_SCHEMA = 'public';

/**
 * Silo model: a database per tenant, possibly on another server, served by the tenant's own pool
 * from the registry. Only the owner and the runtime role may connect to it.
 */
@Injectable()
export class DatabaseStrategy implements IsolationStrategy {
  readonly model = 'database' as const;

  constructor(
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
    private readonly registry: PoolRegistry,
    private readonly role: RuntimeRole,
    private readonly migrator: TenantMigrator,
    private readonly fences: LocationFence,
  ) {}

  location(tenant: Pick<TenantRecord, 'id' | 'server'>): TenantLocation {
    return { server: tenant.server, database: this.naming.databaseFor(tenant.id), schema: DATA_SCHEMA };
  }

  async provision(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    const { server, database } = this.location(tenant);
    await this.role.ensureOn(server);
    await this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
      // One provisioner of a database at a time (CREATE DATABASE cannot run in a transaction, so a
      // session lock on one connection): two concurrent CREATE DATABASE of one name fail with a
      // unique violation (23505), and concurrent GRANTs on it with "tuple concurrently updated".
      await withAdvisoryLock(ds, `tenancy:provision:${database}`, async (runner) => {
        const [exists] = await runner.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database]);
        if (!exists) {
          try {
            await runner.query(`CREATE DATABASE ${quoteIdent(database)}`);
          } catch (err) {
            // 42P04 / 23505: another instance (not using this lock) created it between the check and now.
            if (pgErrorCode(err) !== '42P04' && pgErrorCode(err) !== '23505') throw err;
          }
        }
        await runner.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
        await runner.query(`GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(this.role.name)}`);
      });
    });
    await this.migrator.migrate(this.location(tenant), tenant.id);
  }

  acquire(tenant: TenantRecord): Promise<DataSourceLease> {
    return this.registry.acquire(tenant);
  }

  preamble(tenant: Pick<TenantRecord, 'id'>): string {
    return transactionPreamble(tenant.id, DATA_SCHEMA);
  }

  fence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    return this.fences.fence(this.location(tenant), tenant.id);
  }

  unfence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void> {
    return this.fences.unfence(this.location(tenant), tenant.id);
  }
}
