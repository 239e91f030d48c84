// For the library's unit tests that need real SQL (not part of the build: tsconfig.build.json leaves
// out *.test-support.ts). A throwaway database on the server `npm test` started (TEST_DATABASE_URL),
// reached by a TypeORM DataSource whose pg pool logs the SQL each connection is sent.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

/** A pg pool client as the tests see it: its sent SQL recorded in `sent`. */
interface PoolClient {
  query(...args: unknown[]): unknown;
  processID?: number;
}

export interface ScratchDatabase {
  /** Initialized, on the scratch database, pool of `max` connections. */
  dataSource: DataSource;
  /**
   * The text of every statement sent through the DataSource's pool since initialize, in order (the
   * three of a unit's opening query, see BeginWithQuery, one by one).
   */
  sent: string[];
  /** For each `client.query` call (one round trip each), the length of `sent` after it. */
  calls: number[];
  /** The pg pool behind the DataSource (totalCount, idleCount, waitingCount). */
  pool: { totalCount: number; idleCount: number; waitingCount: number };
  /** Runs SQL on its own connection as the owner (outside any unit of work). */
  owner<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Closes the DataSource and drops the database. */
  drop(): Promise<void>;
}

function serverUrl(database?: string): string {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` (it starts an embedded PostgreSQL).');
  if (!database) return base;
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates database `<prefix>_<random>`, runs `setupSql` in it as the owner, and opens a DataSource
 * on it with `entities` and a pool of at most `max` connections (default 1, so that consecutive
 * units of work share one connection and what one leaves on it shows in the next).
 */
export async function scratchDatabase(
  prefix: string,
  setupSql: string,
  options: { entities?: Function[]; max?: number } = {},
): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl(), (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = serverUrl(name);
  await withClient(url, (c) => c.query(setupSql));
  const dataSource = await new DataSource({
    type: 'postgres',
    url,
    entities: options.entities ?? [],
    extra: { max: options.max ?? 1 },
  }).initialize();
  const pool = (dataSource.driver as unknown as { master: ScratchDatabase['pool'] & { on(e: string, fn: (c: PoolClient) => void): void } })
    .master;
  const sent: string[] = [];
  const calls: number[] = [];
  const logged = new WeakSet<PoolClient>();
  pool.on('acquire', (client) => {
    if (logged.has(client)) return;
    logged.add(client);
    const query = client.query.bind(client);
    client.query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string; statements?: string[] };
      if (typeof first === 'string') sent.push(first);
      else if (first?.statements) sent.push(...first.statements);
      else sent.push(String(first?.text));
      calls.push(sent.length);
      return query(...args);
    };
  });
  return {
    dataSource,
    sent,
    calls,
    pool,
    owner: (sql, params) => withClient(url, async (c) => (await c.query(sql, params)).rows),
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await withClient(serverUrl(), (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
