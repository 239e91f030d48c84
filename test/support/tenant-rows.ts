import { withOwnerClient } from './test-database';

/** The library's default schema prefix (the test app does not change it). */
const SCHEMA_PREFIX = 'tenant_';
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface TenantFootprint {
  /** `database.schema.table` -> the tenant's rows there (owner connections: RLS does not hide rows). */
  rows: Record<string, Record<string, unknown>[]>;
  /** The tenant's schema in the control database, if it exists. */
  schemas: string[];
  /** Databases named after the tenant (under any deployment key). */
  databases: string[];
}

/** The suite's databases: its control database and every database with its prefix. */
export async function suiteDatabases(controlDatabase: string, databasePrefix: string): Promise<string[]> {
  return withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2) ORDER BY 1`, [
      controlDatabase,
      databasePrefix,
    ]);
    return rows.map((r) => r.datname as string);
  });
}

/**
 * Everything of one tenant, wherever it is: its rows in every table with a `tenant_id` column of
 * every schema of every database of the suite (but the usage ledger), plus any schema or database
 * named after it.
 */
export async function tenantFootprint(controlDatabase: string, databasePrefix: string, tenantId: string): Promise<TenantFootprint> {
  const safe = tenantId.replace(/-/g, '_');
  const databases = await suiteDatabases(controlDatabase, databasePrefix);
  // A tenant database is <prefix><deployment key>_<tenant>; a key is 1 to 10 of a-z and 0-9.
  const named = (d: string) =>
    d.startsWith(databasePrefix) &&
    /^[a-z0-9]{1,10}_/.test(d.slice(databasePrefix.length)) &&
    d.slice(databasePrefix.length).replace(/^[a-z0-9]{1,10}_/, '') === safe;
  const out: TenantFootprint = { rows: {}, schemas: [], databases: databases.filter(named) };
  for (const database of databases) {
    await withOwnerClient(database, async (c) => {
      if (database === controlDatabase) {
        const { rows } = await c.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1`, [`${SCHEMA_PREFIX}${safe}`]);
        out.schemas = rows.map((r) => r.nspname);
      }
      const { rows: tables } = await c.query(
        `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
          ORDER BY 1, 2`,
      );
      for (const { schema, table } of tables) {
        // The usage ledger counts the tenant's requests (it grows with every one, and goes with the
        // tenant: test/usage.e2e.test.ts): no data of the tenant.
        if (database === controlDatabase && schema === 'tenancy' && table === 'usage_minutes') continue;
        const { rows } = await c.query(`SELECT * FROM ${quote(schema)}.${quote(table)} x WHERE tenant_id = $1 ORDER BY x::text`, [
          tenantId,
        ]);
        if (rows.length) out.rows[`${database}.${schema}.${table}`] = rows;
      }
    });
  }
  return out;
}

/** The tenant's rows of one table, wherever they are (the location is part of the answer). */
export function rowsOfTable(footprint: TenantFootprint, table: string): { location: string; rows: Record<string, unknown>[] }[] {
  return Object.entries(footprint.rows)
    .filter(([key]) => key.endsWith(`.${table}`))
    .map(([location, rows]) => ({ location, rows }));
}

/** Polls `probe` until it returns true; the elapsed milliseconds, or throws after `timeoutMillis`. */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMillis = 10_000,
  everyMillis = 10,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMillis) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMillis));
  }
}
