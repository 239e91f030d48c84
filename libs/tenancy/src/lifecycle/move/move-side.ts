import type { PoolClient } from 'pg';
import type { QueryRunner } from 'typeorm';
import type { TenantLocation } from '../../core/tenant-location';
import { quoteIdent } from '../../core/sql';
import { OwnerConnections } from '../../connections/owner-connections';
import { citusPreamble } from '../../strategies/transaction-preamble';
import type { TenantTable } from '../../migrations/tenant-tables';

/** One end of a move, as the mover holds it: one owner session on the location's database. */
export interface MoveSide {
  runner: QueryRunner;
  client: PoolClient;
  location: TenantLocation;
  /** Citus mode: the side's settings are sent with SET LOCAL too, so the workers render rows alike. */
  citus: boolean;
  /** Releases the session and closes its pool; idempotent. */
  close(): Promise<void>;
}

/** Opens one owner session (a pool of its own) on the database of `location`. */
export async function openSide(owner: OwnerConnections, location: TenantLocation, citus = false): Promise<MoveSide> {
  const { dataSource, close } = await owner.open(location.server, location.database);
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  let closed = false;
  return {
    runner,
    client,
    location,
    citus,
    close: async () => {
      if (closed) return;
      closed = true;
      await runner.release();
      await close();
    },
  };
}

/**
 * Begins a transaction on the side, pinned to the tenant, rendering every value alike on both
 * sides (UTC, ISO dates, exact floats), so that the row hashes of the two sides compare.
 */
export async function beginSide(
  side: MoveSide,
  isolation: 'REPEATABLE READ READ ONLY' | 'READ COMMITTED',
  tenantId: string,
): Promise<void> {
  await side.client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
  await side.client.query(
    `SELECT set_config('app.tenant_id', $1, true), set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), set_config('extra_float_digits', '3', true)`,
    [tenantId],
  );
  if (side.citus) {
    const settings = { TimeZone: 'UTC', DateStyle: 'ISO, MDY', extra_float_digits: '3' };
    for (const sql of citusPreamble(tenantId, settings)) await side.client.query(sql);
  }
}

/** The table at the side, schema-qualified and quoted. */
export function qualified(side: Pick<MoveSide, 'location'>, table: Pick<TenantTable, 'name'>): string {
  return `${quoteIdent(side.location.schema)}.${quoteIdent(table.name)}`;
}

/** A row's key as SQL: the JSON array text of its primary key columns (`alias.col` when an alias is given). */
export function keyExpr(table: Pick<TenantTable, 'key'>, alias?: string): string {
  return `json_build_array(${table.key.map((k) => (alias ? `${alias}.${quoteIdent(k)}` : quoteIdent(k))).join(', ')})::text`;
}
