// The admission limits on their own: concurrency slots given back once, and the tier's rate counted
// in @nestjs/throttler's memory storage (the default store) under the deployment's tenant key, with
// the verdict cached until its Retry-After, and a store that fails admitting uncounted.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { resolveTenancyOptions, TierDefinition } from '../config/tenancy-options';
import { TenantBusyError, TenantRateLimitedError } from '../errors/tenancy.errors';
import { TenantAdmission } from './tenant-admission';

class ClockedAdmission extends TenantAdmission {
  millis = 1_000;
  protected override now(): number {
    return this.millis;
  }
}

/** The memory store, recording each increment's arguments. */
class RecordingStore extends ThrottlerStorageService {
  calls: [string, number, number, number, string][] = [];
  override increment(key: string, ttl: number, limit: number, blockDuration: number, name: string) {
    this.calls.push([key, ttl, limit, blockDuration, name]);
    return super.increment(key, ttl, limit, blockDuration, name);
  }
}

function admission(
  tiers: Record<string, TierDefinition>,
  module: { concurrency?: number; rate?: { perSecond: number; burst?: number } } = {},
  store: ThrottlerStorage = new RecordingStore(),
): ClockedAdmission {
  return new ClockedAdmission(
    resolveTenancyOptions({
      databaseUrl: 'postgres://owner@localhost/control',
      deploymentKey: 'dk1',
      catalog: { tiers, tenants: [] },
      entities: [],
      migrations: [],
      ...module,
    }),
    store,
  );
}

async function enter(a: TenantAdmission, t: { id: string; tier: string }): Promise<() => void> {
  return a.enter(t);
}

describe('TenantAdmission', () => {
  it('refuses past the tier concurrency and gives a slot back exactly once, at once when the tier has no rate', () => {
    const a = admission({ capped: { strategy: 'schema', concurrency: 2 } });
    const t = { id: 'acme', tier: 'capped' };
    const leave1 = a.enter(t);
    assert.equal(typeof leave1, 'function', 'no rate: nothing to wait for');
    (leave1 as () => void)();
    (leave1 as () => void)();
    assert.equal(a.current('acme'), 0);
    void a.enter(t);
    void a.enter(t);
    assert.throws(() => a.enter(t), TenantBusyError);
    assert.throws(() => a.check(t), TenantBusyError);
    assert.equal(a.current('acme'), 2);
    assert.equal(a.current('other'), 0);
  });

  it("counts the tier's rate in the throttler store under <deploymentKey>:<tenant>, `burst` per window of burst/perSecond", async () => {
    const store = new RecordingStore();
    const a = admission({ metered: { strategy: 'shared', rate: { perSecond: 2, burst: 3 } } }, {}, store);
    (await enter(a, { id: 'acme', tier: 'metered' }))();
    assert.deepEqual(store.calls, [['dk1:acme', 1_500, 3, 1_500, 'tenant-rate']]);
  });

  it('lets a burst through, then refuses with Retry-After and RateLimit headers, gives the slot back, and caches the verdict until Retry-After', async () => {
    const store = new RecordingStore();
    const a = admission({ metered: { strategy: 'shared', rate: { perSecond: 10, burst: 3 } } }, {}, store);
    const t = { id: 'acme', tier: 'metered' };
    for (let i = 0; i < 3; i++) (await enter(a, t))();
    let refused: TenantRateLimitedError | undefined;
    await assert.rejects(enter(a, t), (err: unknown) => {
      refused = err as TenantRateLimitedError;
      return err instanceof TenantRateLimitedError && /10 requests per second/.test(err.message);
    });
    assert.equal(refused!.retryAfterSeconds, 1, 'the 300 ms block rounds up to 1 s');
    assert.deepEqual(refused!.headers(), { 'ratelimit-policy': '"tenant";q=3;w=1', ratelimit: '"tenant";r=0;t=1' });
    assert.equal(a.current('acme'), 0, 'a refused unit holds no slot');
    // Refused now without asking the store, until the Retry-After it was given has passed.
    const asked = store.calls.length;
    assert.throws(() => a.check(t), TenantRateLimitedError);
    assert.ok(a.refusal(t));
    assert.equal(store.calls.length, asked);
    // Another tenant of the tier has its own count.
    (await enter(a, { id: 'other', tier: 'metered' }))();
    await sleep(350); // the store's block (one window) is over
    a.millis += 1_000; // and so is the Retry-After
    assert.equal(a.refusal(t), undefined);
    (await enter(a, t))();
  });

  it('uses the module rate for tiers without one, the tier burst defaulting to one second of its rate, and no rate by default', async () => {
    const store = new RecordingStore();
    const a = admission(
      { plain: { strategy: 'shared' }, own: { strategy: 'shared', rate: { perSecond: 4 } } },
      { rate: { perSecond: 1, burst: 2 } },
      store,
    );
    (await enter(a, { id: 'a', tier: 'plain' }))();
    (await enter(a, { id: 'c', tier: 'own' }))();
    assert.deepEqual(
      store.calls.map((c) => c.slice(0, 3)),
      [
        ['dk1:a', 2_000, 2],
        ['dk1:c', 1_000, 4],
      ],
    );
    const unlimitedStore = new RecordingStore();
    const unlimited = admission({ plain: { strategy: 'shared' } }, {}, unlimitedStore);
    for (let i = 0; i < 1_000; i++) (unlimited.enter({ id: 'a', tier: 'plain' }) as () => void)();
    assert.equal(unlimitedStore.calls.length, 0, 'no rate: the store is never asked');
  });

  it('admits uncounted when the store fails (a Redis that is away), and still gives the slot back', async () => {
    const failing: ThrottlerStorage = { increment: () => Promise.reject(new Error('connection refused')) };
    const a = admission({ metered: { strategy: 'shared', rate: { perSecond: 1, burst: 1 } } }, {}, failing);
    const t = { id: 'acme', tier: 'metered' };
    for (let i = 0; i < 3; i++) {
      const leave = await enter(a, t);
      assert.equal(a.current('acme'), 1);
      leave();
    }
    assert.equal(a.current('acme'), 0);
  });

  it('forgets a deleted tenant’s cached verdict', async () => {
    const a = admission({ metered: { strategy: 'shared', rate: { perSecond: 1, burst: 1 } } });
    const t = { id: 'gone', tier: 'metered' };
    (await enter(a, t))();
    await assert.rejects(enter(a, t), TenantRateLimitedError);
    assert.ok(a.refusal(t));
    a.forget('gone');
    assert.equal(a.refusal(t), undefined);
  });

  it('throttleWhenNoisy: the tier rate applies only while the tenant is held as noisy, and only to that tenant', async () => {
    const a = admission({ loud: { strategy: 'shared', rate: { perSecond: 2 }, throttleWhenNoisy: true }, plain: { strategy: 'shared' } });
    const loud = { id: 'loud', tier: 'loud' };
    const other = { id: 'other', tier: 'loud' };
    for (let i = 0; i < 10; i++) (await enter(a, loud))();
    assert.equal(a.throttle(loud, true), true, 'its tier throttles when noisy');
    assert.equal(a.isThrottled(loud), true);
    (await enter(a, loud))();
    (await enter(a, loud))();
    await assert.rejects(enter(a, loud), TenantRateLimitedError);
    assert.throws(() => a.check(loud), TenantRateLimitedError);
    for (let i = 0; i < 10; i++) (await enter(a, other))();
    const quiet = { id: 'quiet', tier: 'plain' };
    assert.equal(a.throttle(quiet, true), false, 'a tier without throttleWhenNoisy');
    assert.equal(a.isThrottled(quiet), false, 'not held: its tier does not throttle when noisy');
    for (let i = 0; i < 20; i++) (await enter(a, quiet))();
    a.throttle(loud, false);
    assert.equal(a.isThrottled(loud), false);
    // Let go: served at once, its cached refusal dropped.
    for (let i = 0; i < 10; i++) (await enter(a, loud))();
  });
});
