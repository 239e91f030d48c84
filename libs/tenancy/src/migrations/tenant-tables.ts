import type { DataSource, EntityManager } from 'typeorm';

export interface TenantTable {
  name: string;
  /** Primary key columns, in key order: rows are copied and exported in this order. */
  key: string[];
  columns: string[];
}

/**
 * The tenant-owned tables of a schema (those with a `tenant_id` column), parents before children
 * (a table comes after every table its foreign keys reference), so copying in this order and
 * deleting in the reverse never breaks a foreign key.
 */
export async function tenantTables(db: DataSource | EntityManager, schema: string): Promise<TenantTable[]> {
  const rows: { name: string; columns: string[]; key: string[]; parents: string[] }[] = await db.query(
    `SELECT c.relname AS name,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_constraint p
              CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              WHERE p.conrelid = c.oid AND p.contype = 'p') AS key,
            COALESCE((SELECT array_agg(DISTINCT r.relname::text) FROM pg_constraint f JOIN pg_class r ON r.oid = f.confrelid
              WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid), '{}') AS parents
       FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_namespace'::regclass
        AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
    [schema],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const ordered: TenantTable[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name)) return;
    const row = byName.get(name);
    if (!row) return;
    path.add(name);
    for (const parent of row.parents) visit(parent, path);
    placed.add(name);
    ordered.push({ name, key: row.key ?? ['tenant_id'], columns: row.columns });
  };
  for (const name of [...byName.keys()].sort()) visit(name, new Set());
  return ordered;
}
