// The admission limits on their own: concurrency slots given back once, and the token bucket of a
// tier's rate (refill, burst, Retry-After) on a clock the test moves.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { resolveTenancyOptions, TierDefinition } from '../config/tenancy-options';
import { TenantBusyError, TenantRateLimitedError } from '../errors/tenancy.errors';
import { TenantAdmission } from './tenant-admission';

class ClockedAdmission extends TenantAdmission {
  millis = 1_000;
  protected override now(): number {
    return this.millis;
  }
}

function admission(
  tiers: Record<string, TierDefinition>,
  module: { concurrency?: number; rate?: { perSecond: number; burst?: number } } = {},
): ClockedAdmission {
  return new ClockedAdmission(
    resolveTenancyOptions({
      databaseUrl: 'postgres://owner@localhost/control',
      catalog: { tiers, tenants: [] },
      entities: [],
      migrations: [],
      ...module,
    }),
  );
}

describe('TenantAdmission', () => {
  it('refuses past the tier concurrency and gives a slot back exactly once', () => {
    const a = admission({ capped: { strategy: 'schema', concurrency: 2 } });
    const t = { id: 'acme', tier: 'capped' };
    const leave1 = a.enter(t);
    a.enter(t);
    assert.throws(() => a.enter(t), TenantBusyError);
    assert.throws(() => a.check(t), TenantBusyError);
    leave1();
    leave1();
    assert.equal(a.current('acme'), 1);
    a.enter(t);
    assert.throws(() => a.enter(t), TenantBusyError);
    assert.equal(a.current('other'), 0);
  });

  it('lets a burst through, then one request per 1/perSecond seconds, with Retry-After until the next token', () => {
    const a = admission({ metered: { strategy: 'shared', rate: { perSecond: 2, burst: 3 } } });
    const t = { id: 'acme', tier: 'metered' };
    for (let i = 0; i < 3; i++) a.enter(t)();
    assert.throws(
      () => a.enter(t),
      (err: unknown) => err instanceof TenantRateLimitedError && err.retryAfterSeconds === 1 && /2 requests per second/.test(err.message),
    );
    a.millis += 400; // 0.8 of a token
    assert.throws(() => a.check(t), TenantRateLimitedError);
    a.millis += 100; // 1 token
    a.enter(t)();
    assert.throws(() => a.check(t), TenantRateLimitedError);
    a.millis += 60_000; // refilled to the burst, not beyond
    for (let i = 0; i < 3; i++) a.enter(t)();
    assert.throws(() => a.check(t), TenantRateLimitedError);
  });

  it('says how long to wait when the rate is below one a second', () => {
    const a = admission({ slow: { strategy: 'shared', rate: { perSecond: 0.25, burst: 1 } } });
    const t = { id: 'acme', tier: 'slow' };
    a.enter(t)();
    assert.throws(
      () => a.check(t),
      (err: unknown) => err instanceof TenantRateLimitedError && err.retryAfterSeconds === 4,
    );
    a.millis += 3_000;
    assert.throws(
      () => a.check(t),
      (err: unknown) => err instanceof TenantRateLimitedError && err.retryAfterSeconds === 1,
    );
    a.millis += 1_000;
    a.check(t);
  });

  it('keeps each tenant its own bucket, uses the module rate for tiers without one and none by default', () => {
    const a = admission(
      { plain: { strategy: 'shared' }, own: { strategy: 'shared', rate: { perSecond: 1 } } },
      { rate: { perSecond: 1, burst: 2 } },
    );
    a.enter({ id: 'a', tier: 'plain' })();
    a.enter({ id: 'a', tier: 'plain' })();
    assert.throws(() => a.check({ id: 'a', tier: 'plain' }), TenantRateLimitedError);
    a.enter({ id: 'b', tier: 'plain' })();
    a.enter({ id: 'c', tier: 'own' })();
    assert.throws(() => a.check({ id: 'c', tier: 'own' }), TenantRateLimitedError, 'the tier burst defaults to one second of its rate');
    a.forget('a');
    a.check({ id: 'a', tier: 'plain' });
    const unlimited = admission({ plain: { strategy: 'shared' } });
    for (let i = 0; i < 1_000; i++) unlimited.enter({ id: 'a', tier: 'plain' })();
  });
});
