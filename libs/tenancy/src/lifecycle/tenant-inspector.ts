import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { quoteIdent } from '../core/sql';
import { TenantRecord } from '../core/tenant-record';
import { OwnerConnections } from '../connections/owner-connections';
import { CitusMode } from '../connections/citus-mode';
import { citusPreamble } from '../strategies/transaction-preamble';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger } from '../migrations/migration-ledger';
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
    private readonly strategies: IsolationStrategies,
    private readonly ledger: MigrationLedger,
    private readonly citus: CitusMode,
  ) {}

  /** Every tenant with model, tier, status, version and size, in a few bulk queries. */
  async list(): Promise<TenantSummary[]> {
    const tenants = this.catalog.list();
    const ledger = await this.ledger.all();
    const sizes = new Map<string, number | null>();
    for (const model of new Set(tenants.map((t) => t.strategy))) {
      for (const [id, size] of await this.strategies.for(model).sizes(tenants.filter((t) => t.strategy === model))) sizes.set(id, size);
    }
    return tenants.map((t) => ({
      ...t,
      version: ledger.get(this.strategies.for(t.strategy).ledgerTarget(t))?.version ?? null,
      sizeBytes: sizes.get(t.id) ?? null,
    }));
  }

  /** One tenant with its row count per table. */
  async inspect(tenant: TenantRecord): Promise<TenantDetails> {
    const strategy = this.strategies.for(tenant.strategy);
    const location = strategy.location(tenant);
    const version = await this.ledger.versionOf(strategy.ledgerTarget(tenant));
    return this.owner.withDatabase(location.server, location.database, async (ds) => {
      const rows = await this.countRows(ds, location.schema, tenant.id);
      const sizeBytes = await strategy.sizeOf(tenant, ds, rows);
      return { ...tenant, version, sizeBytes, rows };
    });
  }

  /** Row counts per tenant table, inside a transaction pinned to the tenant (RLS applies to a non-superuser owner too). */
  async countRows(ds: DataSource, schema: string, tenantId: string): Promise<Record<string, number>> {
    return ds.transaction(async (m) => {
      await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
      if (this.citus.enabled) for (const sql of citusPreamble(tenantId)) await m.query(sql);
      const out: Record<string, number> = {};
      for (const table of await tenantTables(m, schema)) {
        const [row] = await m.query(
          `SELECT count(*)::bigint AS n FROM ${quoteIdent(schema)}.${quoteIdent(table.name)} WHERE tenant_id = $1`,
          [tenantId],
        );
        out[table.name] = Number(row.n);
      }
      return out;
    });
  }
}
