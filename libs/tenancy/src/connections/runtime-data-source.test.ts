// The runtime DataSource factory: TypeORM is given pg, so a new DataSource (one per tenant pool of
// the database model) looks no module up on disk, and it serves real queries with that driver.
import assert from 'node:assert/strict';
import Module from 'node:module';
import { describe, it } from '@jest/globals';
import { createRuntimeDataSource } from './runtime-data-source';

const POOL = { max: 1, idleTimeoutMillis: 1_000, maxLifetimeSeconds: 60, acquireMillis: 3_000, queryTimeoutMillis: 5_000 };

/** The module names `require`d while `fn` runs. */
function requiredDuring(fn: () => void): string[] {
  const loader = Module as unknown as { _load(request: string, ...rest: unknown[]): unknown };
  const load = loader._load;
  const names: string[] = [];
  loader._load = function (request: string, ...rest: unknown[]) {
    names.push(request);
    return load.call(this, request, ...rest);
  };
  try {
    fn();
  } finally {
    loader._load = load;
  }
  return names;
}

describe('createRuntimeDataSource', () => {
  it('requires nothing when it builds a DataSource: not pg, and never pg-native (a failed require is not cached)', () => {
    createRuntimeDataSource('postgres://u:p@127.0.0.1:1/warm', [], POOL, 'test'); // the first may load TypeORM's own files
    const names = requiredDuring(() => createRuntimeDataSource('postgres://u:p@127.0.0.1:1/db', [], POOL, 'test'));
    assert.deepEqual(
      names.filter((n) => /^pg(-native)?$/.test(n)),
      [],
    );
  });

  it('serves queries on a real server with the pg driver it was given', async () => {
    const url = process.env.TEST_DATABASE_URL;
    assert.ok(url, 'TEST_DATABASE_URL is not set: run the tests with `npm test`');
    const ds = await createRuntimeDataSource(url, [], POOL, 'nest-tenancy:runtime-data-source-test').initialize();
    try {
      const [row] = await ds.query(`SELECT current_setting('application_name') AS name, 1 + 1 AS two`);
      assert.deepEqual(row, { name: 'nest-tenancy:runtime-data-source-test', two: 2 });
    } finally {
      await ds.destroy();
    }
  });
});

describe('a leased connection the server ends', () => {
  // TypeORM's query runners listen for their client's errors; a client leased from the pool by
  // other code (the registry closing an idle connection, a user's own `driver.master.connect()`)
  // had no listener, and an error event with no listener ends the process.
  it('is reported by its next query, not thrown from an event with no listener, and the pool serves again', async () => {
    const url = process.env.TEST_DATABASE_URL;
    assert.ok(url, 'TEST_DATABASE_URL is not set: run the tests with `npm test`');
    const ds = await createRuntimeDataSource(url, [], { ...POOL, max: 2 }, 'nest-tenancy:leased-end-test').initialize();
    const pool = (ds.driver as unknown as { master: import('pg').Pool }).master;
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const client = await pool.connect();
    try {
      const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
      // Ended from another connection while leased and idle.
      const [ended] = await ds.query('SELECT pg_terminate_backend($1) AS ended', [rows[0].pid]);
      assert.equal(ended.ended, true);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(uncaught, []);
      await assert.rejects(client.query('SELECT 1'));
    } finally {
      client.release(true);
      process.off('uncaughtException', onUncaught);
    }
    const [row] = await ds.query('SELECT 1 AS one');
    assert.equal(row.one, 1);
    await ds.destroy();
  });
});
