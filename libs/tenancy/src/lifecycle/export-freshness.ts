import { Injectable } from '@nestjs/common';
import { quoteIdent } from '../core/sql';
import { TenantRecord } from '../core/tenant-record';
import { OwnerConnections } from '../connections/owner-connections';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { tenantTables } from '../migrations/tenant-tables';

/**
 * Past this many transaction ids since the export, a row's 32-bit `xmin` can no longer be placed
 * against it with certainty: the export counts as stale. A quarter of the 2^32 xid space.
 */
const MAX_EXPORT_AGE = 2n ** 30n;

/**
 * Whether the tenant's last export still holds all of its rows: none of them was inserted or
 * updated by a transaction the export's snapshot did not see.
 *
 * Every row version carries the id of the transaction that wrote it (`xmin`, 32 bits, wrapping);
 * the export keeps its whole snapshot (TenantRecord.exportedSnapshot, `xmin:xmax:xip`). A row's
 * `xmin` is widened to a 64-bit `xid8` against the current snapshot's `xmax` (every committed row
 * is older than it), then tested with `pg_visible_in_snapshot` against the export's snapshot: a
 * transaction that was still running or began after the export started is not in it. Rows
 * deleted since lose nothing: they are in the export. `xmin` 1 and 2 (bootstrap, frozen before 9.4)
 * are old. A raw `xmin` over 2^32 transactions old reads as recent (or before the first): a refusal on
 * the safe side.
 * Sources: PostgreSQL docs, "Transaction ID and Snapshot Information Functions" and "Preventing
 * Transaction ID Wraparound Failures".
 */
@Injectable()
export class ExportFreshness {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly strategies: IsolationStrategies,
  ) {}

  /**
   * True when a row of the tenant may be missing from its last export: no export, an export with
   * no snapshot kept (made before the kit kept it, under Citus, or followed by a move), an export
   * older than 2^30 transactions, or a row of a tenant table written since. Read at the tenant's
   * current location in one REPEATABLE READ snapshot; a unit of work still running may write after
   * it (mark the tenant `deleting` first so none starts).
   */
  async writtenSinceExport(tenant: TenantRecord): Promise<boolean> {
    if (!tenant.exportedAt || !tenant.exportedSnapshot) return true;
    const location = this.strategies.for(tenant.strategy).location(tenant);
    const { dataSource, close } = await this.owner.open(location.server, location.database);
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction('REPEATABLE READ');
      const [{ age }]: { age: string }[] = await runner.query(
        `SELECT set_config('app.tenant_id', $1, true),
                (pg_snapshot_xmax(pg_current_snapshot())::text::numeric - pg_snapshot_xmin($2::pg_snapshot)::text::numeric)::text AS age`,
        [tenant.id, tenant.exportedSnapshot],
      );
      if (BigInt(age) > MAX_EXPORT_AGE) return true;
      for (const table of await tenantTables(runner.manager, location.schema)) {
        const rows: unknown[] = await runner.query(
          `WITH now AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax)
           SELECT 1 FROM ${quoteIdent(location.schema)}.${quoteIdent(table.name)} t, now,
                  LATERAL (SELECT now.xmax - ((now.xmax % 4294967296) - t.xmin::text::bigint + 4294967296) % 4294967296 AS xid) w
            WHERE t.tenant_id = $1 AND t.xmin::text::bigint > 2
              AND (w.xid < 0 OR NOT pg_visible_in_snapshot(GREATEST(w.xid, 0)::text::xid8, $2::pg_snapshot))
            LIMIT 1`,
          [tenant.id, tenant.exportedSnapshot],
        );
        if (rows.length) return true;
      }
      return false;
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
      await close();
    }
  }
}
