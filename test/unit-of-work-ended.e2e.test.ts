// The unit of work's end, query by query: a query issued after it ends fails with
// UnitOfWorkEndedError by every path (manager, query runner, stream, the runner's pg client), and
// COMMIT/ROLLBACK wait for a query already on its way, which runs inside the transaction or not at all.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { QueryRunner } from 'typeorm';
import { TenancyService, TenantDataSource, UnitOfWorkEndedError } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';

describe('a unit of work that has ended sends nothing more', () => {
  let t: TestApp;
  let tenancy: TenancyService;
  let tds: TenantDataSource;

  beforeAll(async () => {
    t = await startTestApp({ tenants: [{ id: 'ender', name: 'Ender', strategy: 'schema' }] });
    tenancy = t.app.get(TenancyService);
    tds = t.app.get(TenantDataSource);
  });
  afterAll(async () => t?.close());

  it('refuses a query after the end by the manager, the query runner, its stream and its pg client', async () => {
    const runner = await tenancy.run('ender', async () => {
      await tds.query('SELECT 1');
      return tds.queryRunner;
    });
    const client = (runner as QueryRunner & { databaseConnection: { query(sql: string): Promise<unknown> } }).databaseConnection;
    await assert.rejects(runner.manager.query('SELECT 1'), UnitOfWorkEndedError);
    await assert.rejects(runner.query('SELECT 1'), UnitOfWorkEndedError);
    await assert.rejects(runner.stream('SELECT 1'), UnitOfWorkEndedError);
    await assert.rejects(runner.startTransaction(), UnitOfWorkEndedError);
    await assert.rejects(client.query('SELECT 1'), UnitOfWorkEndedError);
  });

  it('commit waits for a query already sent, which ran in the transaction', async () => {
    let pending!: Promise<{ tenant: string }[]>;
    let settled = false;
    await tenancy.run('ender', async () => {
      await tds.query('SELECT 1');
      pending = tds.query<{ tenant: string }[]>(`SELECT pg_sleep(0.2), current_setting('app.tenant_id', true) AS tenant`);
      void pending.then(() => (settled = true));
      await new Promise((ok) => setTimeout(ok, 20));
    });
    assert.equal(settled, true, 'commit returned before the pending query settled');
    assert.equal((await pending)[0].tenant, 'ender');
  });

  it('a query issued just before commit runs in the transaction or fails with UnitOfWorkEndedError, never after it', async () => {
    for (let i = 0; i < 20; i++) {
      let late!: Promise<{ tenant: string | null }[]>;
      await tenancy.run('ender', async () => {
        await tds.query('SELECT 1');
        late = tds.query(`SELECT current_setting('app.tenant_id', true) AS tenant`);
        late.catch(() => undefined);
      });
      const outcome = await late.then(
        (rows) => rows[0].tenant,
        (err) => err,
      );
      if (typeof outcome === 'string') assert.equal(outcome, 'ender', `run ${i}: the late query ran outside the transaction`);
      else assert.ok(outcome instanceof UnitOfWorkEndedError, `run ${i}: ${outcome}`);
    }
  });

  it('a write issued just before rollback is refused or rolled back, never written', async () => {
    for (let i = 0; i < 20; i++) {
      let write!: Promise<unknown>;
      const email = `late${i}@ender.test`;
      await assert.rejects(
        tenancy.run('ender', async () => {
          await tds.query('SELECT 1');
          write = tds.query(`INSERT INTO users (email, name) VALUES ($1, 'Late')`, [email]);
          write.catch(() => undefined);
          throw new Error('handler failed');
        }),
        /handler failed/,
      );
      const err = await write.then(
        () => undefined,
        (e) => e,
      );
      if (err) assert.ok(err instanceof UnitOfWorkEndedError, `run ${i}: ${err}`);
      const rows = await tenancy.run('ender', () => tds.query<unknown[]>(`SELECT 1 FROM users WHERE email = $1`, [email]));
      assert.equal(rows.length, 0, `run ${i}: the row of a rolled-back unit exists`);
    }
  });
});
