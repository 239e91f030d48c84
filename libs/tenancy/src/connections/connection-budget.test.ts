// The per-server connection budget on its own: a ceiling per tenant, round-robin between waiting
// tenants (FIFO within one), and a bounded wait that fails only the waiter that timed out.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { TenantPoolExhaustedError } from '../errors/tenancy.errors';
import { ConnectionBudget, type ConnectionPermit } from './connection-budget';

describe('ConnectionBudget', () => {
  it('grants at once under the budget and the tenant ceiling, and counts permits', async () => {
    const budget = new ConnectionBudget(3, 1_000);
    const a = await budget.take('s', 'a', 2);
    await budget.take('s', 'b', 2);
    assert.equal(budget.busy('s'), 2);
    assert.equal(budget.busy('s', 'a'), 1);
    assert.equal(budget.busy('other'), 0, 'each server has its own budget');
    a();
    a(); // twice is harmless
    assert.equal(budget.busy('s'), 1);
  });

  it('a full budget is shared round-robin between waiting tenants, FIFO within one', async () => {
    const budget = new ConnectionBudget(2, 5_000);
    const held: ConnectionPermit[] = [await budget.take('s', 'flood', 10), await budget.take('s', 'flood', 10)];
    const order: string[] = [];
    const wait = (tenant: string, n: number) =>
      budget.take('s', tenant, 10).then((permit) => {
        order.push(`${tenant}${n}`);
        held.push(permit);
      });
    // The flooding tenant queues five, then two quiet tenants one each.
    const waits = [1, 2, 3, 4, 5].map((n) => wait('flood', n));
    waits.push(wait('q', 1), wait('r', 1));
    assert.equal(budget.waiting('s'), 7);
    // Permits free up one at a time; each goes to the next waiting tenant in turn.
    while (order.length < 7) {
      held.shift()!();
      await sleep(1);
    }
    assert.deepEqual(order, ['flood1', 'q1', 'r1', 'flood2', 'flood3', 'flood4', 'flood5'], 'quiet tenants wait one turn, not five');
    await Promise.all(waits);
    for (const p of held) p();
    assert.equal(budget.busy('s'), 0);
  });

  it('never gives a tenant more than its ceiling, even with the budget free', async () => {
    const budget = new ConnectionBudget(10, 5_000);
    const one = await budget.take('s', 'a', 1);
    let second = false;
    const pending = budget.take('s', 'a', 1).then((p) => ((second = true), p));
    const other = await budget.take('s', 'b', 1);
    await sleep(5);
    assert.equal(second, false);
    one();
    (await pending)();
    assert.equal(second, true);
    other();
  });

  it('a waiter gives up after the wait limit with TenantPoolExhaustedError; the others keep waiting', async () => {
    const budget = new ConnectionBudget(1, 50);
    const holder = await budget.take('s', 'a', 5);
    const started = Date.now();
    const late = budget.take('s', 'b', 5);
    await assert.rejects(late, (err: unknown) => err instanceof TenantPoolExhaustedError && err.getStatus() === 503);
    assert.ok(Date.now() - started >= 45);
    assert.equal(budget.waiting('s'), 0, 'the timed-out waiter left the queue');
    assert.match(String(await late.catch((e: Error) => e.message)), /database server 's' are in use/);
    holder();
    (await budget.take('s', 'c', 5))();
    // A tenant waiting at its own ceiling is told so, not that the server is full.
    const own = await budget.take('s', 'a', 1);
    await assert.rejects(budget.take('s', 'a', 1), /All 1 connections of tenant 'a' are in use/);
    own();
  });
});
