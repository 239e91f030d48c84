// Noisy neighbours from the recent load: the median over the active tenants, the factor, the
// minimums, the throttle applied and lifted, the listeners told; and the recent load's windows and p99.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { resolveTenancyOptions, type TierDefinition } from '../config/tenancy-options';
import type { TenantRecord } from '../core/tenant-record';
import { TenantActivity } from '../context/tenant-activity';
import { TenantAdmission } from '../data-source/tenant-admission';
import { medianOf, NoisyNeighbours, type NoisyChange } from './noisy-neighbours';
import { RecentLoad } from './recent-load';

const TIERS: Record<string, TierDefinition> = {
  free: { strategy: 'shared' },
  loud: { strategy: 'shared', rate: { perSecond: 1 }, throttleWhenNoisy: true },
};
const tenant = (id: string, tier = 'free') =>
  ({ id, name: id, tier, strategy: 'shared', server: 'default', status: 'active' }) as TenantRecord;

function setup() {
  const options = resolveTenancyOptions({ databaseUrl: 'postgres://u@h/db', catalog: { tiers: TIERS, tenants: [] }, migrations: [] });
  const load = new RecentLoad(options, new TenantActivity());
  const held = new Map<string, boolean>();
  const admission = {
    throttle: (t: TenantRecord, on: boolean) => (held.set(t.id, on), t.tier === 'loud'),
    isThrottled: (t: TenantRecord) => held.get(t.id) === true && t.tier === 'loud',
  };
  const records = new Map<string, TenantRecord>();
  const catalog = { get: (id: string) => records.get(id) };
  const noisy = new NoisyNeighbours(options, load, admission as never, catalog as never);
  const send = (t: TenantRecord, n: number, databaseMillis = 1, millis = 4) => {
    records.set(t.id, t);
    for (let i = 0; i < n; i++) load.record({ tenant: t, kind: 'request', status: 200, failed: false, millis, databaseMillis });
  };
  return { noisy, load, held, send };
}

describe('NoisyNeighbours', () => {
  it('reports a tenant above 10 times the median requests, throttles it when its tier says so, and lets it go when quiet', () => {
    const { noisy, held, send } = setup();
    const changes: NoisyChange[] = [];
    noisy.subscribe((c) => changes.push(c));
    for (const id of ['a', 'b', 'c', 'd']) send(tenant(id), 10);
    send(tenant('flood', 'loud'), 400);
    const report = noisy.check();
    assert.deepEqual(report.median, { requests: 10, databaseMs: 10 });
    assert.deepEqual(
      report.tenants.map((t) => [t.tenantId, t.requests, t.ratio]),
      [['flood', 400, 40]],
    );
    assert.equal(held.get('flood'), true);
    assert.deepEqual(
      changes.map((c) => [c.tenant.id, c.noisy, c.throttled]),
      [['flood', true, true]],
    );
    assert.equal(noisy.isNoisy('flood'), true);
    assert.ok(noisy.report(60).tenants[0].since instanceof Date);
    assert.equal(noisy.report(60).tenants[0].throttled, true);
    // The others catch up: it is no longer above 10 times the median.
    for (const id of ['a', 'b', 'c', 'd']) send(tenant(id), 100);
    assert.deepEqual(noisy.check().tenants, []);
    assert.equal(held.get('flood'), false);
    assert.equal(noisy.isNoisy('flood'), false);
    assert.deepEqual(changes.at(-1)?.noisy, false);
  });

  it('a noisy tenant of a tier without throttleWhenNoisy is reported and logged as not throttled, and is not limited', async () => {
    const options = resolveTenancyOptions({ databaseUrl: 'postgres://u@h/db', catalog: { tiers: TIERS, tenants: [] }, migrations: [] });
    const load = new RecentLoad(options, new TenantActivity());
    const admission = new TenantAdmission(options, new ThrottlerStorageService());
    const records = new Map<string, TenantRecord>();
    const noisy = new NoisyNeighbours(options, load, admission, { get: (id: string) => records.get(id) } as never);
    const changes: NoisyChange[] = [];
    noisy.subscribe((c) => changes.push(c));
    for (const t of [tenant('a'), tenant('b'), tenant('c'), tenant('free-flood'), tenant('loud-flood', 'loud')]) {
      records.set(t.id, t);
      const n = t.id.endsWith('flood') ? 400 : 10;
      for (let i = 0; i < n; i++) load.record({ tenant: t, kind: 'request', status: 200, failed: false, millis: 4, databaseMillis: 1 });
    }
    const checked = noisy.check();
    assert.deepEqual(checked.tenants.map((t) => t.tenantId).sort(), ['free-flood', 'loud-flood']);
    const throttled = (r: { tenants: { tenantId: string; throttled: boolean }[] }) =>
      Object.fromEntries(r.tenants.map((t) => [t.tenantId, t.throttled]));
    assert.deepEqual(throttled(noisy.report(60)), { 'free-flood': false, 'loud-flood': true });
    assert.deepEqual(Object.fromEntries(changes.map((c) => [c.tenant.id, c.throttled])), { 'free-flood': false, 'loud-flood': true });
    // Not limited: its tier has no rate to hold it to, noisy or not.
    for (let i = 0; i < 50; i++) {
      const leave = await admission.enter(records.get('free-flood')!);
      leave();
    }
    // The tier that throttles when noisy is held to its rate (1 per second, a burst of 1).
    (await admission.enter(records.get('loud-flood')!))();
    await assert.rejects(async () => (await admission.enter(records.get('loud-flood')!))());
  });

  it('by database time too; never below the minimums; nobody is noisy alone or among two', () => {
    const { noisy, send } = setup();
    send(tenant('alone'), 5_000);
    assert.deepEqual(noisy.report(60).tenants, [], 'alone: the median is its own load');
    send(tenant('b'), 10);
    assert.deepEqual(noisy.report(60).tenants, [], 'two: the median is their mean');
    const { noisy: n2, send: send2 } = setup();
    for (const id of ['a', 'b', 'c']) send2(tenant(id), 2, 5);
    send2(tenant('few'), 50, 5);
    assert.deepEqual(n2.report(60).tenants, [], '25 times the median, but under minRequests (100)');
    send2(tenant('slow'), 2, 2_000);
    assert.deepEqual(
      n2.report(60).tenants.map((t) => t.tenantId),
      ['slow'],
    );
  });

  it('medianOf: the middle value, or the mean of the middle two', () => {
    assert.equal(medianOf([]), 0);
    assert.equal(medianOf([5, 1, 3]), 3);
    assert.equal(medianOf([4, 1, 3, 2]), 2.5);
  });
});

describe('RecentLoad', () => {
  it('sums each window from its own slots, and gives the p99 of the durations in it', () => {
    const { load } = setup();
    const t0 = 10_000_000;
    const a = tenant('a');
    const at = (offsetSeconds: number, millis: number) =>
      load.record(
        { tenant: a, kind: 'request', status: 200, failed: false, millis, databaseMillis: 1, rowsWritten: 2 },
        t0 + offsetSeconds * 1000,
      );
    for (let i = 0; i < 98; i++) at(0, 10);
    at(0, 500);
    at(0, 500);
    for (let i = 0; i < 50; i++) at(100, 20);
    const recent = load.loads(30, t0 + 100_000);
    assert.equal(recent[0].requests, 50);
    assert.equal(recent[0].rowsWritten, 100);
    assert.equal(recent[0].p99Ms, 20);
    const longer = load.loads(300, t0 + 100_000);
    assert.equal(longer[0].requests, 150);
    assert.equal(longer[0].p99Ms, 500, 'the 149th of 150 (nearest rank)');
    assert.deepEqual(load.loads(30, t0 + 4_000_000), [], 'an hour later: forgotten');
  });
});
