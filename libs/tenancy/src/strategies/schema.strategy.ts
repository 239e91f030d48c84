import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Deployment } from '../catalog/deployment';
import type { TenantLocation } from '../core/tenant-location';
import { TenantNaming } from '../catalog/tenant-naming';
import { quoteIdent } from '../core/sql';
import type { TenantRecord } from '../core/tenant-record';
import type { TransactionLimits } from '../config/tenancy-options';
import { HomeDataSource } from '../pools/home-data-source';
import { OwnerConnections } from '../connections/owner-connections';
import type { DataSourceLease } from '../connections/runtime-data-source';
import { TenantMigrator } from '../migrations/tenant-migrator';
import type { IsolationStrategy, PlacedTenant } from './isolation-strategy';
import { LocationFence } from './location-fence';
import { transactionPreamble } from './transaction-preamble';

/**
 * Bridge model: a schema per tenant in the home database, reached through the one shared pool with
 * `search_path` set for each transaction. Row-level security stays on underneath as a second wall.
 */
@Injectable()
export class SchemaStrategy implements IsolationStrategy {
  readonly model = 'schema' as const;
  readonly takesServer = false;

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

  commonPlace(): undefined {
    return undefined;
  }

  ledgerTarget(tenant: Pick<TenantRecord, 'id'>): string {
    return tenant.id;
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

  async provisionCommon(): Promise<undefined> {
    return undefined;
  }

  /** Drops the tenant's schema (with its fence table) when it is this deployment's. */
  async drop(tenant: Pick<TenantRecord, 'id'>): Promise<void> {
    const { schema } = this.location(tenant);
    if ((await this.deployment.checkSchema(schema)) === 'absent') return;
    const ds = await this.owner.controlDataSource();
    await ds.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  }

  async sizeOf(tenant: Pick<TenantRecord, 'id'>, ds: DataSource): Promise<number> {
    const { schema } = this.location(tenant);
    return (await this.schemaSizes(ds, schema)).get(schema) ?? 0;
  }

  /** One query over every schema of this deployment. */
  async sizes(tenants: PlacedTenant[]): Promise<Map<string, number | null>> {
    const sizes = await this.schemaSizes(await this.owner.controlDataSource());
    return new Map(tenants.map((t) => [t.id, sizes.get(this.naming.schemaFor(t.id)) ?? null]));
  }

  /** A tenant schema keeps its name (the control database holds the key): it only gets the mark. */
  async adoptUnkeyed(tenants: TenantRecord[]): Promise<number> {
    for (const tenant of tenants) await this.deployment.adoptUnmarkedSchema(this.naming.schemaFor(tenant.id));
    return 0;
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

  /** Bytes of the relations of `only`, or of every schema named with this deployment's prefix. */
  private async schemaSizes(ds: DataSource, only?: string): Promise<Map<string, number>> {
    const rows: { schema: string; size: string }[] = await ds.query(
      `SELECT n.nspname AS schema, sum(pg_total_relation_size(c.oid))::bigint AS size
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND ($1::text IS NULL AND starts_with(n.nspname, $2) OR n.nspname = $1)
        GROUP BY n.nspname`,
      [only ?? null, this.naming.schemaPrefix],
    );
    return new Map(rows.map((r) => [r.schema, Number(r.size)]));
  }
}
