import { Injectable } from '@nestjs/common';
import { quoteIdent } from '../core/sql';
import { OwnerConnections } from '../connections/owner-connections';
import { CitusMode } from '../connections/citus-mode';
import { citusPreamble } from './transaction-preamble';
import { pgErrorCode } from '../errors/pg-error-code';
import { FENCE_TABLE } from '../migrations/migration-runner';
import type { TenantLocation } from '../core/tenant-location';

/** The location (its schema or database) no longer exists: there is nothing left to unfence. */
const GONE = new Set(['42P01', '3F000', '3D000']);

/**
 * Fences a tenant at one location: a row in the location's `tenancy_fence` table, written by the
 * owner and read by every transaction's preamble (strategies/transaction-preamble.ts), which makes
 * the transaction read-only. A fence holds from its commit on, in every instance of the service,
 * whether or not that instance has heard of it: the database enforces it, not the catalog.
 */
@Injectable()
export class LocationFence {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly citus: CitusMode,
  ) {}

  /** Fences `tenantId` at `location` (idempotent); returns once the fence is committed. */
  async fence(location: TenantLocation, tenantId: string): Promise<void> {
    await this.write(location, tenantId, `INSERT INTO ${this.table(location)} (tenant) VALUES ($1) ON CONFLICT (tenant) DO NOTHING`);
  }

  /** Lifts the fence of `tenantId` at `location`; a location that no longer exists is left alone. */
  async unfence(location: TenantLocation, tenantId: string): Promise<void> {
    try {
      await this.write(location, tenantId, `DELETE FROM ${this.table(location)} WHERE tenant = $1`);
    } catch (err) {
      if (!GONE.has(pgErrorCode(err) ?? '')) throw err;
    }
  }

  /** Whether `tenantId` is fenced at `location` (false when the location does not exist). */
  async isFenced(location: TenantLocation, tenantId: string): Promise<boolean> {
    try {
      return await this.owner.withDatabase(location.server, location.database, (ds) =>
        ds.transaction(async (m) => {
          await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
          if (this.citus.enabled) for (const sql of citusPreamble(tenantId)) await m.query(sql);
          const rows = await m.query(`SELECT 1 FROM ${this.table(location)} WHERE tenant = $1`, [tenantId]);
          return rows.length > 0;
        }),
      );
    } catch (err) {
      if (GONE.has(pgErrorCode(err) ?? '')) return false;
      throw err;
    }
  }

  private table(location: TenantLocation): string {
    return `${quoteIdent(location.schema)}.${FENCE_TABLE}`;
  }

  /**
   * The fence table is under forced row-level security on `app.tenant_id`, for the owner too (in
   * Citus mode, a tenant schema's fence table is on a worker: the setting goes there with SET LOCAL).
   */
  private async write(location: TenantLocation, tenantId: string, sql: string): Promise<void> {
    await this.owner.withDatabase(location.server, location.database, (ds) =>
      ds.transaction(async (m) => {
        await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
        if (this.citus.enabled) for (const statement of citusPreamble(tenantId)) await m.query(statement);
        await m.query(sql, [tenantId]);
      }),
    );
  }
}
