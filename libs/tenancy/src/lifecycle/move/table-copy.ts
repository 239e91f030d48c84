import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { quoteIdent, quoteLiteral } from '../../core/sql';
import type { TenantTable } from '../../migrations/tenant-tables';
import { keyExpr, type MoveSide, qualified } from './move-side';

/** Rows a batch of INSERT ... json_populate_recordset carries. */
const INSERT_BATCH = 5_000;

/** Whether the side's role bypasses row-level security (COPY FROM refuses a table under RLS otherwise). */
export async function bypassesRls(side: MoveSide): Promise<boolean> {
  const { rows } = await side.client.query(`SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`);
  return rows[0]?.bypass === true;
}

/**
 * Streams the tenant's rows of one table, in key order, from `src` into `dst` with COPY, or with
 * batched INSERTs when `useCopy` is false (COPY FROM meets RLS). Returns the rows copied.
 */
export async function copyTable(src: MoveSide, dst: MoveSide, table: TenantTable, tenantId: string, useCopy: boolean): Promise<number> {
  const columns = table.columns.map(quoteIdent).join(', ');
  const rows = `FROM ${qualified(src, table)} t WHERE tenant_id = ${quoteLiteral(tenantId)} ORDER BY ${table.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}`;
  if (!useCopy) return insertRows(src, dst, table, `SELECT row_to_json(t)::text AS row ${rows}`, []);
  const out = src.client.query(copyTo(`COPY (SELECT ${table.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')} ${rows}) TO STDOUT`));
  const into = dst.client.query(copyFrom(`COPY ${qualified(dst, table)} (${columns}) FROM STDIN`));
  await pipeline(out, into);
  return Number((into as unknown as { rowCount?: number }).rowCount ?? 0);
}

/**
 * Writes the source rows of the given keys (JSON array text, see keyExpr) to the target: inserted,
 * or updated in place where the target holds the key. Returns the rows written.
 */
export function upsertKeys(src: MoveSide, dst: MoveSide, table: TenantTable, tenantId: string, keys: string[]): Promise<number> {
  const select = `SELECT row_to_json(t)::text AS row FROM ${qualified(src, table)} t WHERE tenant_id = ${quoteLiteral(tenantId)} AND ${keyExpr(table, 't')} = ANY($1::text[])`;
  const rest = table.columns.filter((c) => !table.key.includes(c));
  const conflict = ` ON CONFLICT (${table.key.map(quoteIdent).join(', ')}) ${rest.length ? `DO UPDATE SET ${rest.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}` : 'DO NOTHING'}`;
  return insertRows(src, dst, table, select, [keys], conflict);
}

/** Deletes the target's rows of the given keys. */
export async function deleteKeys(dst: MoveSide, table: TenantTable, keys: string[]): Promise<void> {
  await dst.client.query(`DELETE FROM ${qualified(dst, table)} WHERE ${keyExpr(table)} = ANY($1::text[])`, [keys]);
}

/** Inserts the rows `select` returns (as `row` JSON text) into the target in batches; `onConflict` follows each INSERT. */
async function insertRows(
  src: MoveSide,
  dst: MoveSide,
  table: TenantTable,
  select: string,
  params: unknown[],
  onConflict = '',
): Promise<number> {
  const { rows } = await src.client.query(select, params);
  const target = qualified(dst, table);
  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    const batch = `[${rows
      .slice(i, i + INSERT_BATCH)
      .map((r: { row: string }) => r.row)
      .join(',')}]`;
    await dst.client.query(`INSERT INTO ${target} SELECT * FROM json_populate_recordset(NULL::${target}, $1::json)${onConflict}`, [batch]);
  }
  return rows.length;
}
