// The usage ledger's buffering: counts kept in memory per tenant and minute, written with one
// statement per flush, kept for the next flush when one fails (and never thrown), none lost when
// units end during a flush; and the cost estimate's arithmetic.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { TenantLifecycleHooks } from '../catalog/tenant-lifecycle-hooks';
import { resolveTenancyOptions } from '../config/tenancy-options';
import type { TenantRecord } from '../core/tenant-record';
import { TenantActivity } from '../context/tenant-activity';
import { BYTES_PER_GB, estimateCost } from './usage-cost';
import { UsageLedger } from './usage-ledger';

const tenant = (id: string) => ({ id, name: id, tier: 'free', strategy: 'shared', server: 'default', status: 'active' }) as TenantRecord;

/** A control DataSource that records each statement's parameters, failing while `down`, waiting for `gate` if set. */
function fakeOwner() {
  const state = { down: false, statements: [] as unknown[][], gate: undefined as Promise<void> | undefined };
  const ds = {
    query: async (_sql: string, params: unknown[]) => {
      if (state.gate) await state.gate;
      if (state.down) throw new Error('connect ECONNREFUSED');
      state.statements.push(params);
      return [];
    },
  };
  return { state, owner: { controlDataSource: async () => ds } };
}

function ledger() {
  const options = resolveTenancyOptions({ databaseUrl: 'postgres://u@h/db', catalog: { tiers: {}, tenants: [] }, migrations: [] });
  const activity = new TenantActivity();
  const { state, owner } = fakeOwner();
  // The catalog as the ledger sees it: its records and its change events.
  const records = new Map<string, TenantRecord>(['a', 'b', 'c'].map((id) => [id, tenant(id)]));
  const catalog = { events: new EventEmitter(), get: (id: string) => records.get(id) };
  const hooks = new TenantLifecycleHooks();
  const l = new UsageLedger(options, activity, owner as never, { controlSchema: 'tenancy' } as never, {} as never, catalog as never, hooks);
  l.onModuleInit();
  return { l, activity, state, records, catalog, hooks };
}

const end = (activity: TenantActivity, id: string, extra: { failed?: boolean; databaseMillis?: number; rowsWritten?: number } = {}) =>
  activity.record({
    tenant: tenant(id),
    kind: 'request',
    status: 200,
    failed: false,
    millis: 5,
    databaseMillis: 2,
    rowsWritten: 1,
    ...extra,
  });

/** Sums the statements' rows per tenant: [requests, errors, database ms, rows written]. */
function written(statements: unknown[][]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [ids, , requests, errors, ms, rows] of statements as number[][][]) {
    (ids as unknown as string[]).forEach((id, i) => {
      const sum = (out[id] ??= [0, 0, 0, 0]);
      sum[0] += requests[i];
      sum[1] += errors[i];
      sum[2] += ms[i];
      sum[3] += rows[i];
    });
  }
  return out;
}

describe('UsageLedger', () => {
  it('writes every ended unit once, one statement per flush, per tenant and minute', async () => {
    const { l, activity, state } = ledger();
    try {
      for (let i = 0; i < 5; i++) end(activity, 'a');
      end(activity, 'a', { failed: true, databaseMillis: 7, rowsWritten: 0 });
      end(activity, 'b', { rowsWritten: 3 });
      assert.equal(l.pendingRows, 2);
      await l.flush();
      assert.equal(state.statements.length, 1);
      assert.equal(l.pendingRows, 0);
      await l.flush();
      assert.equal(state.statements.length, 1, 'nothing to write: no statement');
      assert.deepEqual(written(state.statements), { a: [6, 1, 17, 5], b: [1, 0, 2, 3] });
    } finally {
      l.stop();
    }
  });

  it('keeps the counts of a failed flush for the next one, adds what came meanwhile, and never throws', async () => {
    const { l, activity, state } = ledger();
    try {
      for (let i = 0; i < 4; i++) end(activity, 'a');
      state.down = true;
      await l.flush();
      assert.equal(state.statements.length, 0);
      assert.equal(l.pendingRows, 1);
      end(activity, 'a', { failed: true });
      state.down = false;
      await l.flush();
      assert.deepEqual(written(state.statements), { a: [5, 1, 10, 5] });
    } finally {
      l.stop();
    }
  });

  it('loses nothing recorded while a flush is in flight, and flushes one at a time', async () => {
    const { l, activity, state } = ledger();
    try {
      end(activity, 'a');
      const first = l.flush();
      end(activity, 'a');
      const second = l.flush();
      await Promise.all([first, second]);
      assert.equal(state.statements.length, 2);
      assert.deepEqual(written(state.statements), { a: [2, 0, 4, 2] });
    } finally {
      l.stop();
    }
  });
});

describe('UsageLedger forgets a deleted tenant', () => {
  it('through the lifecycle hooks: its counts not yet written go, the others stay; a move or suspension keeps them', async () => {
    const { l, activity, state, hooks } = ledger();
    try {
      for (let i = 0; i < 3; i++) end(activity, 'a');
      end(activity, 'b');
      end(activity, 'c');
      await hooks.emit({ tenantId: 'b', kind: 'moved' });
      await hooks.emit({ tenantId: 'c', kind: 'suspended' });
      await hooks.emit({ tenantId: 'a', kind: 'deleted' });
      await l.flush();
      assert.deepEqual(written(state.statements), { b: [1, 0, 2, 1], c: [1, 0, 2, 1] });
    } finally {
      l.onModuleDestroy();
      l.stop();
    }
  });

  it('through the catalog events (another instance deleted it): gone, deleting, or missing after a full re-read', async () => {
    const { l, activity, state, records, catalog } = ledger();
    try {
      for (const id of ['a', 'b', 'c']) end(activity, id);
      records.delete('a');
      catalog.events.emit('change', 'a');
      records.set('b', { ...tenant('b'), status: 'deleting' });
      catalog.events.emit('change', 'b');
      assert.equal(l.pendingRows, 1);
      records.delete('c');
      catalog.events.emit('change', '*');
      assert.equal(l.pendingRows, 0);
      // Provisioned again under the same id: it starts from zero.
      records.set('a', tenant('a'));
      catalog.events.emit('change', 'a');
      end(activity, 'a', { rowsWritten: 4 });
      await l.flush();
      assert.deepEqual(written(state.statements), { a: [1, 0, 2, 4] });
    } finally {
      l.onModuleDestroy();
      l.stop();
    }
  });

  it('provisioned again before this instance heard of the delete (another creation time): the old counts go, the new stay', async () => {
    const { l, activity, state, records, catalog } = ledger();
    try {
      const first = { ...tenant('a'), createdAt: new Date('2026-11-30T10:00:00Z') };
      const again = { ...tenant('a'), createdAt: new Date('2026-11-30T12:00:00Z') };
      records.set('a', first);
      activity.record({ tenant: first, kind: 'request', status: 200, failed: false, millis: 1, databaseMillis: 1, rowsWritten: 5 });
      end(activity, 'b');
      catalog.events.emit('change', 'a');
      assert.equal(l.pendingRows, 2, 'the same tenant: kept');
      records.set('a', again);
      catalog.events.emit('change', 'a');
      activity.record({ tenant: again, kind: 'request', status: 200, failed: false, millis: 1, databaseMillis: 1, rowsWritten: 0 });
      await l.flush();
      assert.deepEqual(written(state.statements), { a: [1, 0, 1, 0], b: [1, 0, 2, 1] });
    } finally {
      l.onModuleDestroy();
      l.stop();
    }
  });

  it('deleted while a flush that then fails is writing: its counts are not kept for the next one', async () => {
    const { l, activity, state, hooks } = ledger();
    try {
      for (let i = 0; i < 3; i++) end(activity, 'a');
      end(activity, 'b');
      let open!: () => void;
      state.gate = new Promise((resolve) => (open = resolve));
      state.down = true;
      const flushing = l.flush();
      await hooks.emit({ tenantId: 'a', kind: 'deleted' });
      open();
      await flushing;
      state.gate = undefined;
      state.down = false;
      await l.flush();
      assert.deepEqual(written(state.statements), { b: [1, 0, 2, 1] });
    } finally {
      l.onModuleDestroy();
      l.stop();
    }
  });
});

describe('estimateCost', () => {
  it('prices requests per million, database time per hour, storage per GB-month over the hours of the period', () => {
    const prices = { currency: 'USD', computePerMillionRequests: 2, databasePerHour: 3, storagePerGbMonth: 4 };
    const cost = estimateCost({ requests: 500_000, databaseMs: 1_800_000, storageBytes: 2 * BYTES_PER_GB }, prices, 365);
    assert.deepEqual(cost, { compute: 1, database: 1.5, storage: 4, total: 6.5 });
    assert.equal(estimateCost({ requests: 0, databaseMs: 0, storageBytes: null }, prices, 10).total, 0);
  });
});
