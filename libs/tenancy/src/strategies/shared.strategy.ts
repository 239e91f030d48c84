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
import { SHARED_TARGET } from '../migrations/migration-ledger';
import { TenantMigrator } from '../migrations/tenant-migrator';
import { tenantTables } from '../migrations/tenant-tables';
import type { CommonPlace, IsolationStrategy, PlacedTenant } from './isolation-strategy';
import { LocationFence } from './location-fence';
import { citusPreamble, transactionPreamble } from './transaction-preamble';
import { CitusMode } from '../connections/citus-mode';

/**
 * Pool model: every tenant's rows in one set of shared tables, told apart by `tenant_id` and kept
 * apart by forced row-level security on `app.tenant_id`.
 */
@Injectable()
export class SharedStrategy implements IsolationStrategy {
  readonly model = 'shared' as const;
  readonly takesServer = false;
  private migrated?: Promise<unknown>;

  constructor(
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
    private readonly home: HomeDataSource,
    private readonly migrator: TenantMigrator,
    private readonly deployment: Deployment,
    private readonly fences: LocationFence,
    private readonly citus: CitusMode,
  ) {}

  location(): TenantLocation {
    return { server: 'default', database: this.owner.homeDatabase(), schema: this.naming.sharedSchema };
  }

  commonPlace(): CommonPlace {
    return { target: SHARED_TARGET, location: this.location() };
  }

  ledgerTarget(): string {
    return SHARED_TARGET;
  }

  /** The shared tables are migrated once per process; a tenant needs nothing of its own. */
  async provision(): Promise<void> {
    await this.provisionCommon();
  }

  provisionCommon(): Promise<CommonPlace> {
    this.migrated ??= (async () => {
      await this.deployment.claimSchema(this.naming.sharedSchema);
      await this.migrator.migrate(this.location());
    })().catch((err) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated.then(() => this.commonPlace());
  }

  /** Deletes the tenant's rows from the shared tables, children first. */
  async drop(tenant: PlacedTenant, options: { keepFence?: boolean } = {}): Promise<void> {
    const { schema } = this.location();
    const ds = await this.owner.controlDataSource();
    await ds.transaction(async (m) => {
      await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant.id]);
      // Citus: the shards' forced row-level security sees the tenant only through SET LOCAL.
      if (this.citus.enabled) for (const sql of citusPreamble(tenant.id)) await m.query(sql);
      for (const table of (await tenantTables(m, schema)).reverse()) {
        await m.query(`DELETE FROM ${quoteIdent(schema)}.${quoteIdent(table.name)} WHERE tenant_id = $1`, [tenant.id]);
      }
    });
    if (!options.keepFence) await this.unfence(tenant);
  }

  /** The tenant's share of each shared table's size, by its share of the table's rows (planner estimate). */
  async sizeOf(_tenant: PlacedTenant, ds: DataSource, rows: Record<string, number>): Promise<number> {
    let share = 0;
    for (const [table, n] of Object.entries(rows)) {
      const [stats] = await ds.query(
        `SELECT pg_total_relation_size(c.oid)::bigint AS size, GREATEST(c.reltuples, 0)::bigint AS estimate
           FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = $2`,
        [this.naming.sharedSchema, table],
      );
      const all = Math.max(Number(stats.estimate), n, 1);
      share += Math.round((Number(stats.size) * n) / all);
    }
    return share;
  }

  /**
   * Each tenant's share of the shared tables' size, by its share of their rows. Needs an owner that
   * bypasses row-level security (a superuser or BYPASSRLS role); otherwise null for every tenant.
   */
  async sizes(tenants: PlacedTenant[]): Promise<Map<string, number | null>> {
    const ds = await this.owner.controlDataSource();
    const [me] = await ds.query(`SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`);
    if (!me?.bypass) return new Map(tenants.map((t) => [t.id, null]));
    const schema = this.naming.sharedSchema;
    const shares = new Map<string, number>();
    for (const table of await tenantTables(ds, schema)) {
      const qualified = `${quoteIdent(schema)}.${quoteIdent(table.name)}`;
      const [total] = await ds.query(`SELECT pg_total_relation_size($1::regclass)::bigint AS size`, [qualified]);
      const counts: { tenant_id: string; n: string }[] = await ds.query(
        `SELECT tenant_id, count(*)::bigint AS n FROM ${qualified} GROUP BY tenant_id`,
      );
      const all = counts.reduce((sum, c) => sum + Number(c.n), 0);
      for (const c of counts)
        shares.set(c.tenant_id, (shares.get(c.tenant_id) ?? 0) + Math.round((Number(total.size) * Number(c.n)) / Math.max(all, 1)));
    }
    return new Map(tenants.map((t) => [t.id, shares.get(t.id) ?? 0]));
  }

  /** The shared schema keeps its name: it only gets the mark. */
  async adoptUnkeyed(): Promise<number> {
    await this.deployment.adoptUnmarkedSchema(this.naming.sharedSchema);
    return 0;
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
