import { withOwnerClient } from './test-database';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Everything a suite's app can write, read through owner connections (superuser: row-level
 * security does not hide rows from it): the suite's databases, their schemas, and for every table
 * its row count and a hash of its rows (but the usage ledger, which counts requests, refused ones
 * too). Two equal snapshots mean nothing was created, changed or deleted anywhere, in any tenant,
 * whatever its model.
 */
export async function snapshotData(controlDatabase: string, databasePrefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const databases: string[] = await withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2) ORDER BY 1`, [
      controlDatabase,
      databasePrefix,
    ]);
    return rows.map((r) => r.datname);
  });
  out.databases = databases.join(',');
  for (const database of databases) {
    await withOwnerClient(database, async (c) => {
      const { rows: schemas } = await c.query(
        `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
      );
      out[`${database}: schemas`] = schemas.map((r) => r.nspname).join(',');
      const { rows: tables } = await c.query(
        `SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT LIKE 'pg\\_%' AND schemaname <> 'information_schema' ORDER BY 1, 2`,
      );
      for (const { schemaname, tablename } of tables) {
        // The usage ledger counts every request, a refused one too (it is usage): no stored data.
        if (database === controlDatabase && schemaname === 'tenancy' && tablename === 'usage_minutes') continue;
        const {
          rows: [r],
        } = await c.query(
          `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ${quote(schemaname)}.${quote(tablename)} x`,
        );
        out[`${database}.${schemaname}.${tablename}`] = `${r.n} rows ${r.h}`;
      }
    });
  }
  return out;
}

/** The number of rows of `table` across the snapshot (every schema and database). */
export function rowsOf(snapshot: Record<string, string>, table: string): number {
  return Object.entries(snapshot)
    .filter(([key]) => key.endsWith(`.${table}`))
    .reduce((sum, [, value]) => sum + Number(value.split(' ')[0]), 0);
}
