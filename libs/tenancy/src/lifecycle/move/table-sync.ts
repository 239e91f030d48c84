import { TenantStateError } from '../../errors/tenancy.errors';
import { type TenantTable, tenantTables } from '../../migrations/tenant-tables';
import { differingBuckets, goneKeys, missingKeys, sumsAfterCatchUp, summary } from './bucket-diff';
import { bucketSums, rowHashes } from './bucket-sums';
import { beginSide, type MoveSide } from './move-side';
import { bypassesRls, copyTable, deleteKeys, upsertKeys } from './table-copy';

/** The two sides of a move disagree after the copy: the move is abandoned, the source keeps serving. */
export class MoveVerificationError extends TenantStateError {}

/** What the catch-up did to one table: rows deleted, inserted or updated since the bulk copy, and the verified checksum. */
export interface TableCatchUp {
  caughtUp: number;
  checksum: string;
}

/**
 * The tenant's tables at the source, parents first.
 * @throws TenantStateError when the target lacks any of them (its migrations are behind).
 */
export async function tablesToSync(src: MoveSide, dst: MoveSide): Promise<TenantTable[]> {
  const tables = await tenantTables(src.runner.manager, src.location.schema);
  const targetTables = new Set((await tenantTables(dst.runner.manager, dst.location.schema)).map((t) => t.name));
  const missing = tables.filter((t) => !targetTables.has(t.name)).map((t) => t.name);
  if (missing.length)
    throw new TenantStateError(`The target lacks tables ${missing.join(', ')}: migrate every tenant first (TenantMigrations.run).`);
  return tables;
}

/**
 * The bulk copy, live: every table in one REPEATABLE READ snapshot of the source, into one
 * transaction on the target, committed at the end. `copied` is told each table's row count.
 */
export async function bulkCopy(
  src: MoveSide,
  dst: MoveSide,
  tables: TenantTable[],
  tenantId: string,
  hooks: { starting?(table: string): void; copied(table: string, rows: number): Promise<void> },
): Promise<void> {
  await beginSide(src, 'REPEATABLE READ READ ONLY', tenantId);
  await beginSide(dst, 'READ COMMITTED', tenantId);
  const useCopy = await bypassesRls(dst);
  for (const table of tables) {
    hooks.starting?.(table.name);
    await hooks.copied(table.name, await copyTable(src, dst, table, tenantId, useCopy));
  }
  await src.client.query('COMMIT');
  await dst.client.query('COMMIT');
}

/**
 * The catch-up once writes are frozen, in transactions the caller has begun on both sides (and
 * commits): each side sums its rows' hashes into 4,096 buckets by key, in SQL; only the rows of
 * buckets that differ travel: the target's rows gone from the source are deleted (children first),
 * and the source's new or changed ones written (parents first; a changed row is updated in place, so
 * a row referencing it keeps its parent: deleting and copying it again broke on the foreign key). Then the target is verified against the source,
 * bucket by bucket (row counts and the hashes of every row): the buckets that matched before were
 * not touched, those that differed are summed again.
 * @throws MoveVerificationError when a table still differs.
 */
export async function catchUpAndVerify(
  src: MoveSide,
  dst: MoveSide,
  tables: TenantTable[],
  tenantId: string,
): Promise<Record<string, TableCatchUp>> {
  const diffs = [];
  for (const table of tables) {
    const [source, target] = await Promise.all([bucketSums(src, table, tenantId), bucketSums(dst, table, tenantId)]);
    const differing = differingBuckets(source, target);
    const [sourceRows, targetRows] = differing.length
      ? await Promise.all([rowHashes(src, table, tenantId, differing), rowHashes(dst, table, tenantId, differing)])
      : [new Map<string, string>(), new Map<string, string>()];
    diffs.push({ table, source, target, differing, sourceRows, targetRows });
  }
  const caughtUp = new Map<string, number>();
  for (const { table, sourceRows, targetRows } of [...diffs].reverse()) {
    const gone = goneKeys(sourceRows, targetRows);
    if (gone.length) await deleteKeys(dst, table, gone);
    caughtUp.set(table.name, gone.length);
  }
  for (const { table, sourceRows, targetRows } of diffs) {
    const missing = missingKeys(sourceRows, targetRows);
    if (missing.length) await upsertKeys(src, dst, table, tenantId, missing);
    caughtUp.set(table.name, caughtUp.get(table.name)! + missing.length);
  }
  const out: Record<string, TableCatchUp> = {};
  for (const { table, source, target, differing } of diffs) {
    const resummed = differing.length ? await bucketSums(dst, table, tenantId, differing) : new Map<number, string>();
    const expected = summary(source);
    const got = summary(sumsAfterCatchUp(target, differing, resummed));
    if (expected.count !== got.count || expected.sum !== got.sum) {
      throw new MoveVerificationError(
        `Verification failed for ${table.name}: source ${expected.count} rows (${expected.sum}), target ${got.count} rows (${got.sum}); the tenant stays where it was.`,
      );
    }
    out[table.name] = { caughtUp: caughtUp.get(table.name)!, checksum: expected.sum };
  }
  return out;
}
