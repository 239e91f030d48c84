import type { QueryRunner } from 'typeorm';
import { quoteIdent } from '../core/sql';
import { AUDIT_EXEMPT_TABLES } from './tenant-table-audit';

/** The distribution column of every tenant-owned table (the README's database rules). */
const DISTRIBUTION_COLUMN = 'tenant_id';

/** What `distributeSharedTables` did to each table of the schema it had not done before. */
export interface Distribution {
  /** Tables now distributed by tenant_id, in the order they were distributed. */
  distributed: string[];
  /** Tables without tenant_id now reference tables (a copy on every node). */
  reference: string[];
}

/**
 * Citus mode, shared model: distributes the tenant-owned tables of `schema` by `tenant_id`, all in
 * one co-location group, and makes every other table of the schema (a table without tenant_id that
 * a migration created; not the kit's ledger and fence, which stay on the coordinator) a reference
 * table. Run by the migration runner after the schema's migrations, in their transaction; a table
 * already known to Citus (`pg_dist_partition`) is left as it is, so a later migration's new table is
 * distributed the next time, beside the others.
 *
 * - Co-location: the first table is distributed with `colocate_with => 'default'` unless the schema
 *   already has a distributed table, each next one with the schema's first distributed table, so
 *   the rows of one tenant in every table live on one node and joins on `(tenant_id, …)` stay local.
 * - Order: a table comes after the tables its foreign keys reference (Citus refuses a foreign key to
 *   a table that is not yet distributed or reference); a reference table comes before them all.
 * See Citus's `create_distributed_table` and `create_reference_table` (its "Table and Shard DDL").
 */
export async function distributeSharedTables(runner: QueryRunner, schema: string): Promise<Distribution> {
  const rows: { name: string; tenant_owned: boolean; citus: boolean; refs: string[] | null }[] = await runner.query(
    `SELECT c.relname AS name,
            EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped) AS tenant_owned,
            EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid) AS citus,
            (SELECT array_agg(DISTINCT r.relname::text) FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid
              WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid AND r.relnamespace = c.relnamespace) AS refs
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY c.relname`,
    [schema, DISTRIBUTION_COLUMN],
  );
  const kit = new Set(AUDIT_EXEMPT_TABLES);
  const qualified = (name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const done = new Set(rows.filter((r) => r.citus).map((r) => r.name));
  const result: Distribution = { distributed: [], reference: [] };
  // The tables may have been created earlier in this transaction: Citus then needs its shards
  // created over one connection per node (see citus.multi_shard_modify_mode).
  if (rows.some((r) => !r.citus && !kit.has(r.name))) await runner.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
  for (const r of rows.filter((x) => !x.citus && !x.tenant_owned && !kit.has(x.name))) {
    await runner.query(`SELECT create_reference_table($1::regclass)`, [qualified(r.name)]);
    done.add(r.name);
    result.reference.push(r.name);
  }
  const [anchor]: { name: string | null }[] = await runner.query(
    `SELECT min(c.relname::text) AS name FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND p.partmethod = 'h'`,
    [schema],
  );
  let colocateWith = anchor?.name ? qualified(anchor.name) : 'default';
  let pending = rows.filter((x) => !x.citus && x.tenant_owned);
  while (pending.length) {
    const ready = pending.filter((t) => (t.refs ?? []).every((ref) => done.has(ref) || !rows.some((x) => x.name === ref)));
    // A cycle of foreign keys (each waits for another): take them in name order, Citus says which fails.
    const next = ready[0] ?? pending[0];
    await runner.query(`SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)`, [
      qualified(next.name),
      DISTRIBUTION_COLUMN,
      colocateWith,
    ]);
    if (colocateWith === 'default') colocateWith = qualified(next.name);
    done.add(next.name);
    result.distributed.push(next.name);
    pending = pending.filter((t) => t !== next);
  }
  return result;
}

/**
 * Citus mode, schema model: makes a tenant's schema a distributed schema (schema-based sharding:
 * its tables become single-shard tables of one co-location group, placed on one node and moved with
 * `citus_schema_move`), unless it already is one (`pg_dist_schema`). Run after the schema's
 * migrations, in their transaction. See Citus's `citus_schema_distribute`.
 * @returns true when the schema was distributed now.
 */
export async function distributeTenantSchema(runner: QueryRunner, schema: string): Promise<boolean> {
  const [row] = await runner.query(
    `SELECT EXISTS (SELECT 1 FROM pg_dist_schema d JOIN pg_namespace n ON n.oid = d.schemaid WHERE n.nspname = $1) AS distributed`,
    [schema],
  );
  if (row.distributed) return false;
  await runner.query(`SELECT citus_schema_distribute($1::regnamespace)`, [quoteIdent(schema)]);
  return true;
}

/**
 * Creates `schema` unless it exists, and only then: with Citus's schema-based sharding on
 * (`citus.enable_schema_based_sharding`), a `CREATE SCHEMA` (even `IF NOT EXISTS` of a schema that
 * exists) registers the schema as a distributed (tenant) schema, which the control and shared
 * schemas must never be; in Citus mode the setting is turned off for this transaction first.
 * @returns true when the schema was created now.
 */
export async function createSchemaIfAbsent(runner: QueryRunner, schema: string, citus: boolean): Promise<boolean> {
  const [row] = await runner.query(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present`, [schema]);
  if (row.present) return false;
  if (citus) await runner.query(`SET LOCAL citus.enable_schema_based_sharding TO off`);
  await runner.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  return true;
}
