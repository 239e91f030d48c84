// The time limits every unit of work sets with set_config(..., true): statement_timeout,
// lock_timeout and idle_in_transaction_session_timeout, from the module's defaults or the tier's own
// `limits`, each ending the statement or the transaction instead of letting it hang, and answered as
// 503 with Retry-After over HTTP.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { TenancyService, TenantDataSource } from '../libs/tenancy/src';
import { pgErrorCode } from '../libs/tenancy/src/errors/pg-error-code';
import { DEFAULT_TIERS, startTestApp, TestApp } from './support/test-app';

describe('transaction limits', () => {
  let t: TestApp;
  let tenancy: TenancyService;
  let tds: TenantDataSource;

  beforeAll(async () => {
    t = await startTestApp({
      tiers: {
        ...DEFAULT_TIERS, // The idle limit stays well above the lock limit: the lock test's holder idles while the
        // waiter times out, and must not be ended itself on a loaded machine.
        strict: { strategy: 'schema', limits: { statementMillis: 300, lockMillis: 200, idleInTransactionMillis: 1_000 } },
      },
      tenants: [
        { id: 'strict', name: 'Strict', tier: 'strict' },
        { id: 'lenient', name: 'Lenient', tier: 'pro' },
      ],
      env: { TENANCY_STATEMENT_TIMEOUT_MILLIS: '2000' },
    });
    tenancy = t.app.get(TenancyService);
    tds = t.app.get(TenantDataSource);
  });

  afterAll(async () => {
    await t?.close();
  });

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: unknown) => pgErrorCode(err) ?? (err as Error).message,
    );

  it('applies the tier’s limits, and the module’s to a tier without its own', async () => {
    const show = (id: string) =>
      tenancy.run(id, () =>
        tds.query<{ s: string; l: string; i: string }[]>(
          `SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i`,
        ),
      );
    assert.deepEqual(await show('strict'), [{ s: '300ms', l: '200ms', i: '1s' }]);
    assert.deepEqual(await show('lenient'), [{ s: '2s', l: '2s', i: '10s' }]);
  });

  it('statement_timeout ends a long statement (57014); the other tier’s limit still lets it run', async () => {
    assert.equal(await failure(tenancy.run('strict', () => tds.query('SELECT pg_sleep(1)'))), '57014');
    assert.equal(await failure(tenancy.run('lenient', () => tds.query('SELECT pg_sleep(1)'))), 'ok');
  });

  it('lock_timeout ends a wait for a row lock (55P03)', async () => {
    const created = await tenancy.run('strict', () =>
      tds.query<{ id: string }[]>(`INSERT INTO users (email, name) VALUES ('lock@x.test', 'L') RETURNING id`),
    );
    const id = created[0].id;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = tenancy.run('strict', async () => {
      await tds.query(`SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, [id]);
      locked();
      await held;
    });
    await isLocked;
    const waiter = await failure(tenancy.run('strict', () => tds.query(`UPDATE users SET name = 'M' WHERE id = $1`, [id])));
    release();
    await holder;
    assert.equal(waiter, '55P03');
  });

  it('idle_in_transaction_session_timeout ends a transaction left idle, and nothing of it is committed', async () => {
    const outcome = await failure(
      tenancy.run('strict', async () => {
        await tds.query(`INSERT INTO users (email, name) VALUES ('idle@x.test', 'I')`);
        await new Promise((r) => setTimeout(r, 1_600));
        await tds.query('SELECT 1');
      }),
    );
    assert.notEqual(outcome, 'ok');
    const rows = await tenancy.run('strict', () => tds.query(`SELECT 1 FROM users WHERE email = 'idle@x.test'`));
    assert.deepEqual(rows, []);
  });
});
