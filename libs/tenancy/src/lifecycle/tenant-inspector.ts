import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { quoteIdent, TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../catalog/tenant-record';
import { OwnerConnections } from '../data-source/owner-connections';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger, SHARED_TARGET } from '../migrations/migration-ledger';
import { tenantTables } from '../migrations/tenant-tables';

export interface TenantSummary extends TenantRecord {
  /** The last migration applied, from the ledger. */
  version: string | null;
  /** Bytes on disk: the schema's or database's relations; for the shared model the tenant's share by rows. */
  sizeBytes: number | null;
}

export interface TenantDetails extends TenantSummary {
  rows: Record<string, number>;
}

/** Sizes and row counts of tenants, read through owner connections. */
@Injectable()
export class TenantInspector {
  constructor(
    private readonly catalog: TenantCatalog,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly strategies: IsolationStrategies,
    private readonly ledger: MigrationLedger,
  ) {}

  /** Every tenant with model, tier, status, version and size, in a few bulk queries. */
  async list(): Promise<TenantSummary[]> {
    const tenants = this.catalog.list();
    const ledger = await this.ledger.all();
    const schemaSizes = await this.schemaSizes();
    const databaseSizes = new Map<string, number>();
    for (const server of new Set(tenants.filter((t) => t.strategy === 'database').map((t) => t.server))) {
      for (const [name, size] of await this.databaseSizes(server)) databaseSizes.set(`${server}/${name}`, size);
    }
    const sharedShares = await this.sharedShares();
    return tenants.map((t) => ({
      ...t,
      version: ledger.get(t.strategy === 'shared' ? SHARED_TARGET : t.id)?.version ?? null,
      sizeBytes:
        t.strategy === 'schema'
          ? (schemaSizes.get(this.naming.schemaFor(t.id)) ?? null)
          : t.strategy === 'database'
            ? (databaseSizes.get(`${t.server}/${this.naming.databaseFor(t.id)}`) ?? null)
            : (sharedShares?.get(t.id) ?? (sharedShares ? 0 : null)),
    }));
  }

  /** One tenant with its row count per table. */
  async inspect(tenant: TenantRecord): Promise<TenantDetails> {
    const location = this.strategies.for(tenant.strategy).location(tenant);
    const version = await this.ledger.versionOf(tenant.strategy === 'shared' ? SHARED_TARGET : tenant.id);
    return this.owner.withDatabase(location.server, location.database, async (ds) => {
      const rows = await this.countRows(ds, location.schema, tenant.id);
      let sizeBytes: number | null;
      if (tenant.strategy === 'database') {
        sizeBytes = Number((await ds.query(`SELECT pg_database_size(current_database()) AS size`))[0].size);
      } else if (tenant.strategy === 'schema') {
        sizeBytes = (await this.schemaSizes(location.schema)).get(location.schema) ?? 0;
      } else {
        sizeBytes = await this.sharedShareOf(ds, location.schema, rows);
      }
      return { ...tenant, version, sizeBytes, rows };
    });
  }

  /** Row counts per tenant table, inside a transaction pinned to the tenant (RLS applies to a non-superuser owner too). */
  async countRows(ds: DataSource, schema: string, tenantId: string): Promise<Record<string, number>> {
    return ds.transaction(async (m) => {
      await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
      const out: Record<string, number> = {};
      for (const table of await tenantTables(m, schema)) {
        const [row] = await m.query(`SELECT count(*)::bigint AS n FROM ${quoteIdent(schema)}.${quoteIdent(table.name)} WHERE tenant_id = $1`, [tenantId]);
        out[table.name] = Number(row.n);
      }
      return out;
    });
  }

  private async schemaSizes(only?: string): Promise<Map<string, number>> {
    const ds = await this.owner.controlDataSource();
    const rows: { schema: string; size: string }[] = await ds.query(
      `SELECT n.nspname AS schema, sum(pg_total_relation_size(c.oid))::bigint AS size
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND ($1::text IS NULL AND starts_with(n.nspname, $2) OR n.nspname = $1)
        GROUP BY n.nspname`,
      [only ?? null, this.naming.schemaPrefix],
    );
    return new Map(rows.map((r) => [r.schema, Number(r.size)]));
  }

  private async databaseSizes(server: string): Promise<Map<string, number>> {
    return this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
      const rows: { name: string; size: string }[] = await ds.query(
        `SELECT datname AS name, pg_database_size(datname)::bigint AS size FROM pg_database WHERE starts_with(datname, $1)`,
        [this.naming.databaseStem],
      );
      return new Map(rows.map((r) => [r.name, Number(r.size)]));
    });
  }

  /**
   * Each shared tenant's share of the shared tables' size, by its share of their rows. Needs an
   * owner that bypasses row-level security (a superuser or BYPASSRLS role); otherwise null.
   */
  private async sharedShares(): Promise<Map<string, number> | null> {
    const ds = await this.owner.controlDataSource();
    const [me] = await ds.query(`SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`);
    if (!me?.bypass) return null;
    const schema = this.naming.sharedSchema;
    const shares = new Map<string, number>();
    for (const table of await tenantTables(ds, schema)) {
      const qualified = `${quoteIdent(schema)}.${quoteIdent(table.name)}`;
      const [total] = await ds.query(`SELECT pg_total_relation_size($1::regclass)::bigint AS size`, [qualified]);
      const counts: { tenant_id: string; n: string }[] = await ds.query(`SELECT tenant_id, count(*)::bigint AS n FROM ${qualified} GROUP BY tenant_id`);
      const all = counts.reduce((sum, c) => sum + Number(c.n), 0);
      for (const c of counts) shares.set(c.tenant_id, (shares.get(c.tenant_id) ?? 0) + Math.round((Number(total.size) * Number(c.n)) / Math.max(all, 1)));
    }
    return shares;
  }

  private async sharedShareOf(ds: DataSource, schema: string, rows: Record<string, number>): Promise<number | null> {
    let share = 0;
    for (const [table, n] of Object.entries(rows)) {
      const [stats] = await ds.query(
        `SELECT pg_total_relation_size(c.oid)::bigint AS size, GREATEST(c.reltuples, 0)::bigint AS estimate
           FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = $2`,
        [schema, table],
      );
      const all = Math.max(Number(stats.estimate), n, 1);
      share += Math.round((Number(stats.size) * n) / all);
    }
    return share;
  }
}
