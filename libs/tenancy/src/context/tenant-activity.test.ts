// The recent load of each tenant: what metrics (top K), usage and noisy-neighbour reports read.
import assert from 'node:assert/strict';
import { describe, it, jest } from '@jest/globals';
import type { TenantRecord } from '../core/tenant-record';
import { TenantActivity, type TenantActivitySample } from './tenant-activity';

const tenant = (id: string, strategy: TenantRecord['strategy'] = 'shared', tier: string | null = 'free') =>
  ({ id, name: id, tier, strategy, server: 'default', status: 'active' }) as TenantRecord;

const sample = (t: TenantRecord, extra: Partial<TenantActivitySample> = {}): TenantActivitySample => ({
  tenant: t,
  kind: 'request',
  status: 200,
  failed: false,
  millis: 3,
  databaseMillis: 2,
  ...extra,
});

describe('TenantActivity', () => {
  it('sums requests, runs, errors and database time per tenant, busiest first', () => {
    const activity = new TenantActivity();
    const a = tenant('a');
    const b = tenant('b', 'database', 'enterprise');
    for (let i = 0; i < 3; i++) activity.record(sample(a));
    activity.record(sample(a, { status: 500, failed: true, databaseMillis: 10 }));
    activity.record(sample(b, { kind: 'run', status: undefined }));
    const [first, second] = activity.recent();
    assert.deepEqual(first, { tenant: 'a', model: 'shared', tier: 'free', requests: 4, runs: 0, errors: 1, databaseMillis: 16 });
    assert.deepEqual(second, { tenant: 'b', model: 'database', tier: 'enterprise', requests: 0, runs: 1, errors: 0, databaseMillis: 2 });
  });

  it('forgets what is older than the window, and the tenants with nothing left in it', () => {
    const now = jest.spyOn(Date, 'now').mockImplementation(() => 1_000_000);
    try {
      const activity = new TenantActivity();
      activity.record(sample(tenant('old')));
      now.mockImplementation(() => 1_000_000 + 30_000);
      activity.record(sample(tenant('new')));
      assert.deepEqual(
        activity
          .recent()
          .map((l) => `${l.tenant}:${l.requests}`)
          .sort(),
        ['new:1', 'old:1'],
      );
      now.mockImplementation(() => 1_000_000 + activity.windowSeconds * 1000 + 1);
      assert.deepEqual(
        activity.recent().map((l) => l.tenant),
        ['new'],
        'old is out of the window',
      );
      // A slot reused after the window starts from zero.
      now.mockImplementation(() => 1_000_000 + 30_000 + activity.windowSeconds * 1000);
      activity.record(sample(tenant('new')));
      assert.deepEqual(
        activity.recent().map((l) => `${l.tenant}:${l.requests}`),
        ['new:1'],
      );
    } finally {
      now.mockRestore();
    }
  });

  it('hands every sample to subscribers until they unsubscribe; a throwing one does not stop recording', () => {
    const activity = new TenantActivity();
    const seen: string[] = [];
    activity.subscribe(() => {
      throw new Error('listener bug');
    });
    const stop = activity.subscribe((s) => seen.push(s.tenant.id));
    activity.record(sample(tenant('a')));
    stop();
    activity.record(sample(tenant('b')));
    assert.deepEqual(seen, ['a']);
    assert.equal(activity.recent().length, 2);
  });
});
