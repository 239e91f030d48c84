import type { TenantTable } from '../../migrations/tenant-tables';
import type { BucketSums, RowHashes } from './bucket-diff';
import { keyExpr, type MoveSide, qualified } from './move-side';

/** The bucket of a row as SQL: the first 12 bits of the md5 of its key (the same on every server and version), 0..4095. */
export function bucketExpr(table: Pick<TenantTable, 'key'>): string {
  return `('x' || substr(md5(${keyExpr(table, 't')}), 1, 3))::bit(12)::int`;
}

/** A row's hash as SQL: the md5 of its text form (rendered alike on both sides, see beginSide). */
export const ROW_HASH = 'md5(t::text)';

/**
 * The tenant's rows of one table at the side, summed per bucket (see BucketSums), in SQL: only the
 * sums travel. `only`: just those buckets.
 */
export async function bucketSums(side: MoveSide, table: TenantTable, tenantId: string, only?: number[]): Promise<BucketSums> {
  const { rows } = await side.client.query(
    `SELECT b, count(*) || ':' || sum(('x' || substr(h, 1, 15))::bit(60)::bigint) AS s
       FROM (SELECT ${bucketExpr(table)} AS b, ${ROW_HASH} AS h FROM ${qualified(side, table)} t WHERE tenant_id = $1) r
      ${only ? 'WHERE b = ANY($2::int[])' : ''}
      GROUP BY b`,
    only ? [tenantId, only] : [tenantId],
  );
  return new Map(rows.map((r: { b: number; s: string }) => [r.b, r.s]));
}

/** The key and hash of each of the tenant's rows of one table in `buckets` at the side. */
export async function rowHashes(side: MoveSide, table: TenantTable, tenantId: string, buckets: number[]): Promise<RowHashes> {
  const { rows } = await side.client.query(
    `SELECT ${keyExpr(table, 't')} AS k, ${ROW_HASH} AS h FROM ${qualified(side, table)} t
      WHERE tenant_id = $1 AND ${bucketExpr(table)} = ANY($2::int[])`,
    [tenantId, buckets],
  );
  return new Map(rows.map((r: { k: string; h: string }) => [r.k, r.h]));
}
