// The unit of work and the TypeORM query runner it patches, on their own against a real PostgreSQL
// (no Nest app): when the connection is taken, what is sent on it and in what order, savepoints,
// commit/rollback/abort, the once-only release of slot, lease, permit and connection, and refusal
// after the end or when the client went away mid-start.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, it } from '@jest/globals';
import type { QueryRunner } from 'typeorm';
import type { TenantRecord } from '../core/tenant-record';
import { TenantSuspendedError, UnitOfWorkAbortedError, UnitOfWorkEndedError, UnitOfWorkNotStartedError } from '../errors/tenancy.errors';
import type { DataSourceLease } from '../connections/runtime-data-source';
import { scratchDatabase, type ScratchDatabase } from './scratch-database.test-support';
import { UnitOfWork, type UnitOfWorkSource } from './unit-of-work';

const SETTINGS = `SELECT set_config('app.tenant_id', 'acme', true), false AS fenced`;
const SETUP = `CREATE TABLE notes (body text NOT NULL, tenant text NOT NULL DEFAULT current_setting('app.tenant_id'))`;

const tenant = { id: 'acme', name: 'Acme', tier: null, strategy: 'schema', server: 'default', status: 'active' } as TenantRecord;

/** Resolves when `resolve` is called: a lease or a permit that arrives when the test says so. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((ok) => (resolve = ok));
  return { promise, resolve };
}

/** A source that counts what the unit takes and gives back. */
class CountingSource implements UnitOfWorkSource {
  entered = 0;
  left = 0;
  leased = 0;
  released = 0;
  admitted = 0;
  permitsBack = 0;
  /** When set, `lease()` waits for it; `admit` makes the lease carry a connection budget. */
  leaseGate?: Promise<void>;
  admit?: () => Promise<void>;

  constructor(private readonly db: ScratchDatabase) {}

  enter(): () => void {
    this.entered++;
    return () => this.left++;
  }

  async lease(): Promise<DataSourceLease> {
    await this.leaseGate;
    this.leased++;
    const admit = this.admit;
    return {
      dataSource: this.db.dataSource,
      release: () => this.released++,
      admit: admit
        ? async () => {
            await admit();
            this.admitted++;
            return () => this.permitsBack++;
          }
        : undefined,
    };
  }

  /** Asserts every slot, lease and permit taken was given back exactly once. */
  balanced(): void {
    assert.equal(this.left, this.entered, 'concurrency slots left');
    assert.equal(this.released, this.leased, 'leases released');
    assert.equal(this.permitsBack, this.admitted, 'budget permits given back');
  }
}

describe('UnitOfWork and its patched query runner (real PostgreSQL)', () => {
  let db: ScratchDatabase;
  let source: CountingSource;

  const open = (
    hooks: { settings?: string; beforeBegin?: () => void; onFenced?: () => void; onBeginFailed?: (e: unknown) => Promise<void> } = {},
  ) => new UnitOfWork(tenant, source, hooks.settings ?? SETTINGS, hooks.beforeBegin, hooks.onFenced, hooks.onBeginFailed);
  const rows = async () =>
    (await db.owner<{ body: string; tenant: string }>('SELECT body, tenant FROM notes ORDER BY body')).map((r) => `${r.body}@${r.tenant}`);
  const settle = () => new Promise((ok) => setImmediate(ok));

  beforeAll(async () => {
    db = await scratchDatabase('uow_unit', SETUP);
  });
  afterAll(async () => db?.drop());
  beforeEach(async () => {
    source = new CountingSource(db);
    await db.owner('TRUNCATE notes');
    db.sent.length = 0;
    db.calls.length = 0;
  });

  it('holds nothing until start, takes no connection until the first query, and starts once', async () => {
    const uow = open();
    assert.throws(() => uow.queryRunner(), UnitOfWorkNotStartedError);
    assert.equal(source.entered + source.leased, 0, 'opening a unit takes nothing');
    await Promise.all([uow.start(), uow.start()]);
    await uow.start();
    assert.deepEqual([source.entered, source.leased], [1, 1], 'start is idempotent');
    const runner = uow.queryRunner();
    assert.equal(uow.queryRunner(), runner, 'one runner for the unit');
    assert.equal(runner.isTransactionActive, true, 'TypeORM must nest inside the preamble transaction');
    assert.equal(db.sent.length, 0, 'nothing sent before the first query');
    assert.equal(db.pool.totalCount - db.pool.idleCount, 0, 'no connection checked out before the first query');
    await uow.rollback();
    source.balanced();
  });

  it('sends BEGIN and the settings once, first, with the first query; every query shares its transaction; COMMIT ends it', async () => {
    const uow = open();
    await uow.start();
    const [a, b] = await Promise.all([
      uow.manager.query(`SELECT txid_current() AS xid, current_setting('app.tenant_id') AS tenant`),
      uow.manager.query(`SELECT txid_current() AS xid, pg_backend_pid() AS pid`),
    ]);
    await uow.manager.query(`INSERT INTO notes (body) VALUES ('one')`);
    assert.equal(a[0].tenant, 'acme');
    assert.equal(a[0].xid, b[0].xid, 'both queries ran in the one transaction');
    assert.deepEqual(db.sent.slice(0, 2), ['BEGIN', SETTINGS], 'BEGIN and the settings are the first things sent');
    assert.equal(db.calls[0], 3, 'with the first query, in one round trip');
    assert.equal(db.sent.filter((s) => s === SETTINGS).length, 1, 'and are sent once, though two queries raced to connect');
    assert.equal(
      db.sent.filter((s) => /^\s*(BEGIN|START TRANSACTION)\b/i.test(s)).length,
      1,
      'TypeORM did not open a transaction of its own',
    );
    assert.deepEqual(await rows(), [], 'nothing visible outside before COMMIT');
    await uow.commit();
    assert.equal(db.sent.at(-1), 'COMMIT');
    assert.deepEqual(await rows(), ['one@acme']);
    assert.equal(db.pool.idleCount, db.pool.totalCount, 'the connection went back to the pool');
    source.balanced();

    // The same pooled connection serves the next unit: the tenant setting did not outlive the transaction.
    const next = open({ settings: `SELECT false AS fenced` });
    await next.start();
    const [after] = await next.manager.query(`SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS tenant`);
    assert.equal(after.pid, b[0].pid, 'pool of one: the same backend');
    assert.equal(after.tenant, '', 'a transaction-scoped setting left nothing on the connection');
    await next.rollback();
  });

  it("turns TypeORM's transaction() into a savepoint: a failed inner block rolls back alone", async () => {
    const uow = open();
    await uow.start();
    await uow.manager.query(`INSERT INTO notes (body) VALUES ('outer')`);
    await assert.rejects(
      uow.manager.transaction(async (m) => {
        await m.query(`INSERT INTO notes (body) VALUES ('inner')`);
        throw new Error('inner failed');
      }),
      /inner failed/,
    );
    await uow.manager.transaction((m) => m.query(`INSERT INTO notes (body) VALUES ('kept')`));
    assert.ok(db.sent.some((s) => /^SAVEPOINT /.test(s)) && db.sent.some((s) => /^ROLLBACK TO SAVEPOINT /.test(s)), db.sent.join(' | '));
    await uow.commit();
    assert.deepEqual(await rows(), ['kept@acme', 'outer@acme']);
  });

  it('rollback discards the writes; after the end nothing is sent by any path, and commit reports the rollback', async () => {
    const uow = open();
    await uow.start();
    const runner = uow.queryRunner() as QueryRunner & { databaseConnection: { query(sql: string): Promise<unknown> } };
    await runner.query(`INSERT INTO notes (body) VALUES ('gone')`);
    const client = runner.databaseConnection;
    await Promise.all([uow.rollback(), uow.rollback()]);
    assert.equal(db.sent.at(-1), 'ROLLBACK');
    const sentAtEnd = db.sent.length;
    assert.equal(uow.ended, true);
    assert.throws(() => uow.queryRunner(), UnitOfWorkEndedError);
    await assert.rejects(uow.start(), UnitOfWorkEndedError);
    await assert.rejects(runner.query(`INSERT INTO notes (body) VALUES ('late')`), UnitOfWorkEndedError);
    await assert.rejects(runner.manager.query(`INSERT INTO notes (body) VALUES ('late')`), UnitOfWorkEndedError);
    await assert.rejects(client.query(`INSERT INTO notes (body) VALUES ('late')`), UnitOfWorkEndedError);
    await assert.rejects(uow.commit(), UnitOfWorkEndedError, 'commit after a rollback must not pass as saved');
    await uow.rollback();
    assert.equal(db.sent.length, sentAtEnd, 'nothing reached the connection after the end');
    assert.deepEqual(await rows(), []);
    source.balanced();
    assert.deepEqual([source.left, source.released], [1, 1], 'released once, however many ends were asked for');
  });

  it('commit of a transaction that a caught error aborted throws UnitOfWorkAbortedError and saves nothing', async () => {
    const uow = open();
    await uow.start();
    await uow.manager.query(`INSERT INTO notes (body) VALUES ('lost')`);
    await assert.rejects(uow.manager.query('SELECT 1/0'), /division by zero/);
    await assert.rejects(uow.commit(), UnitOfWorkAbortedError);
    await assert.rejects(uow.commit(), UnitOfWorkEndedError, 'a second commit does not report success');
    assert.deepEqual(await rows(), []);
    source.balanced();
  });

  it('concurrent commit and rollback: the first one asked decides, the other waits for it', async () => {
    const uow = open();
    await uow.start();
    await uow.manager.query(`INSERT INTO notes (body) VALUES ('saved')`);
    await Promise.all([uow.commit(), uow.rollback(), uow.commit()]);
    assert.deepEqual(await rows(), ['saved@acme']);
    assert.equal(db.sent.filter((s) => s === 'COMMIT' || s === 'ROLLBACK').length, 1, 'one end sent');
    source.balanced();
  });

  it('a connection killed under the unit: commit fails, the broken connection is destroyed, and the pool serves the next unit', async () => {
    const uow = open();
    await uow.start();
    await uow.manager.query(`INSERT INTO notes (body) VALUES ('never')`);
    const [{ pid }] = await uow.manager.query('SELECT pg_backend_pid() AS pid');
    await db.owner('SELECT pg_terminate_backend($1)', [pid]);
    await assert.rejects(uow.commit(), (err: unknown) => !(err instanceof UnitOfWorkAbortedError) && err instanceof Error);
    await assert.rejects(uow.commit(), UnitOfWorkEndedError);
    await settle();
    assert.equal(db.pool.totalCount, 0, 'the terminated connection was not put back in the pool');
    source.balanced();
    assert.deepEqual(await rows(), []);

    const next = open();
    await next.start();
    const [row] = await next.manager.query('SELECT pg_backend_pid() AS pid');
    assert.notEqual(row.pid, pid);
    await next.commit();
  });

  it('the client goes away while the lease is being taken: the lease is given back once, start fails, nothing is sent', async () => {
    const gate = deferred<void>();
    source.leaseGate = gate.promise;
    const uow = open();
    const starting = uow.start();
    starting.catch(() => undefined);
    const rolledBack = uow.rollback();
    gate.resolve();
    await rolledBack;
    await assert.rejects(starting, UnitOfWorkEndedError);
    assert.deepEqual([source.entered, source.leased], [1, 1]);
    source.balanced();
    assert.equal(db.sent.length, 0);
  });

  it('the client goes away while the first query waits for the connection budget: the permit goes back and no connection is taken', async () => {
    const budget = deferred<void>();
    source.admit = () => budget.promise;
    const uow = open();
    await uow.start();
    const query = uow.manager.query('SELECT 1');
    query.catch(() => undefined);
    await settle();
    const rolledBack = uow.rollback();
    budget.resolve();
    await rolledBack;
    await assert.rejects(query, UnitOfWorkEndedError);
    assert.equal(source.admitted, 1);
    source.balanced();
    assert.equal(db.sent.length, 0, 'no preamble sent for a unit that had ended');
  });

  it('a refusal by beforeBegin fails the first query before a connection is taken, without asking onBeginFailed', async () => {
    const asked: unknown[] = [];
    const uow = open({
      beforeBegin: () => {
        throw new TenantSuspendedError('acme');
      },
      onBeginFailed: async (e) => void asked.push(e),
    });
    await uow.start();
    await assert.rejects(uow.manager.query('SELECT 1'), TenantSuspendedError);
    assert.deepEqual(asked, []);
    assert.equal(db.sent.length, 0);
    await uow.rollback();
    source.balanced();
    assert.equal(db.pool.idleCount, db.pool.totalCount);
  });

  it('a preamble the database refuses asks onBeginFailed, which may give its own error instead', async () => {
    const asked: unknown[] = [];
    const replaced = open({
      settings: `SELECT no_such_function() AS fenced`,
      onBeginFailed: async (e) => {
        asked.push(e);
        throw new TenantSuspendedError('acme');
      },
    });
    await replaced.start();
    await assert.rejects(replaced.manager.query('SELECT 1'), TenantSuspendedError);
    assert.match(String((asked[0] as Error).message), /no_such_function/);
    await replaced.rollback();
    source.balanced();

    // Left to itself, the database's error comes through.
    const plain = open({ settings: `SELECT no_such_function() AS fenced` });
    await plain.start();
    await assert.rejects(plain.manager.query('SELECT 1'), /no_such_function/);
    await plain.rollback();
  });

  it('calls onFenced when the preamble reports the tenant fenced, and not otherwise', async () => {
    let fenced = 0;
    for (const [flag, expected] of [
      ['true', 1],
      ['false', 1],
    ] as const) {
      const uow = open({ settings: `SELECT ${flag} AS fenced`, onFenced: () => fenced++ });
      await uow.start();
      await uow.manager.query('SELECT 1');
      await uow.manager.query('SELECT 2');
      await uow.rollback();
      assert.equal(fenced, expected, `fenced=${flag}`);
    }
  });
  it('a first query the settings refuse never runs, and nothing of it is saved', async () => {
    const asked: unknown[] = [];
    const uow = open({ settings: `SELECT no_such_function() AS fenced`, onBeginFailed: async (e) => void asked.push(e) });
    await uow.start();
    await assert.rejects(uow.manager.query(`INSERT INTO notes (body) VALUES ($1)`, ['never']), /no_such_function/);
    assert.equal(db.calls[0], 3, 'BEGIN, settings and the INSERT went in one round trip');
    assert.equal(asked.length, 1);
    // A query sent after the failed opening fails inside the aborted transaction, never outside it.
    await assert.rejects(uow.manager.query(`INSERT INTO notes (body) VALUES ('later')`), /current transaction is aborted/);
    await assert.rejects(uow.commit(), UnitOfWorkAbortedError);
    assert.deepEqual(await rows(), []);
    source.balanced();
  });

  it('a first query that may hold several statements, a stream or a callback waits for BEGIN and the settings, then runs inside', async () => {
    const settingAndXid = `SELECT current_setting('app.tenant_id') AS tenant, txid_current()::text AS xid`;
    type Raw = { query(...args: unknown[]): unknown };

    const several = open();
    await several.start();
    const client = (await several.queryRunner().connect()) as Raw;
    const results = (await client.query(`${settingAndXid}; INSERT INTO notes (body) VALUES ('several')`)) as {
      rows: { tenant: string; xid: string }[];
    }[];
    assert.deepEqual(db.sent.slice(0, 1), [`BEGIN; ${SETTINGS}`], 'the opening went alone first');
    assert.equal(results[0].rows[0].tenant, 'acme');
    const [{ xid }] = await several.manager.query(`SELECT txid_current()::text AS xid`);
    assert.equal(results[0].rows[0].xid, xid, 'in the unit’s transaction');
    await several.rollback();
    assert.deepEqual(await rows(), [], 'the rollback took the INSERT of the multi-statement query with it');

    const streamed = open();
    await streamed.start();
    const stream = await streamed.queryRunner().stream(settingAndXid);
    const got: { tenant: string }[] = [];
    for await (const row of stream) got.push(row as { tenant: string });
    assert.deepEqual(
      got.map((r) => r.tenant),
      ['acme'],
    );
    await streamed.commit();

    const called = open();
    await called.start();
    const raw = (await called.queryRunner().connect()) as Raw;
    const viaCallback = await new Promise<{ rows: { tenant: string }[] }>((ok, fail) =>
      raw.query(settingAndXid, [], (err: Error | null, res: { rows: { tenant: string }[] }) => (err ? fail(err) : ok(res))),
    );
    assert.equal(viaCallback.rows[0].tenant, 'acme');
    await called.commit();
    source.balanced();
  });

  it('a stream first, when the settings fail, ends in an error and never runs', async () => {
    const uow = open({ settings: `SELECT no_such_function() AS fenced` });
    await uow.start();
    const stream = await uow.queryRunner().stream(`SELECT current_setting('app.tenant_id') AS tenant`);
    await assert.rejects(
      (async () => {
        for await (const row of stream) assert.fail(`a row arrived: ${JSON.stringify(row)}`);
      })(),
      /no_such_function/,
    );
    assert.equal(db.sent.length, 1, 'only the opening was sent');
    await uow.rollback();
    source.balanced();
  });

  it('a unit that took its connection but sent nothing ends without COMMIT or ROLLBACK', async () => {
    const uow = open();
    await uow.start();
    await uow.queryRunner().connect();
    await uow.commit();
    assert.deepEqual(db.sent, []);
    assert.equal(db.pool.idleCount, db.pool.totalCount, 'the connection went back to the pool');
    source.balanced();
  });
});
