// Rate limits per tier shared through Redis: two instances of the service on one control database,
// both with REDIS_URL pointing at a redis-server this suite starts on a free port, enforce ONE limit
// per tenant (each alone saw only half of the tenant's requests); the 429 carries Retry-After and the
// RateLimit fields; another tenant is served by both; the tenant is served again once its window has
// passed; a Redis that goes away admits requests instead of failing them. The Redis store is
// @nest-lab/throttler-storage-redis, whose peer range stops at NestJS 11: this runs it on NestJS 12.
// Needs Debian's redis-server (`npm run test:redis`, which .ci/run calls after installing it).
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';
import request from 'supertest';
import { TENANCY_OPTIONS, type ResolvedTenancyOptions } from '../../libs/tenancy/src/config/tenancy-options';
import { TENANCY_RATE_STORE } from '../../libs/tenancy/src/data-source/rate-limit-store';
import { startRedis } from '../support/redis-server';
import { startTestApp, TestApp } from '../support/test-app';

describe('rate limits per tier shared through Redis by two instances', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startTestApp({
      // 4 requests per window of 4 s.
      tiers: { free: { strategy: 'shared' }, metered: { strategy: 'schema', rate: { perSecond: 1, burst: 4 } } },
      tenants: [
        { id: 'r-metered', name: 'Metered', tier: 'metered' },
        { id: 'r-free', name: 'Free', tier: 'free' },
      ],
      env: { REDIS_URL: redis.url },
    });
    b = await startTestApp({ join: a, env: { REDIS_URL: redis.url } });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    delete process.env.REDIS_URL;
    await redis?.stop();
  });

  it('uses the Redis store of @nest-lab/throttler-storage-redis on NestJS 12 in both instances', () => {
    assert.ok(a.app.get(TENANCY_RATE_STORE) instanceof ThrottlerStorageRedisService);
    assert.ok(b.app.get(TENANCY_RATE_STORE) instanceof ThrottlerStorageRedisService);
    assert.notEqual(a.app.get(TENANCY_RATE_STORE), b.app.get(TENANCY_RATE_STORE));
  });

  it('enforces one limit across both instances: 429 with Retry-After and RateLimit fields, the other tenant served by both, the tenant served again after its window', async () => {
    const get = (t: TestApp, tenant: string) => request(t.http).get('/users').set('X-Tenant-ID', tenant);
    // Two requests on each instance: 4 in all, the tier's limit per window.
    const served = [await get(a, 'r-metered'), await get(b, 'r-metered'), await get(a, 'r-metered'), await get(b, 'r-metered')];
    assert.deepEqual(
      served.map((r) => r.status),
      [200, 200, 200, 200],
    );
    // Each instance alone has seen 2 of 4: only a shared count refuses the fifth, on either instance.
    for (const t of [a, b]) {
      const refused = await get(t, 'r-metered');
      assert.equal(refused.status, 429, JSON.stringify(refused.body));
      assert.match(refused.body.message, /Tenant 'r-metered' is sending more than the 1 requests per second/);
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 4, refused.headers['retry-after']);
      assert.equal(refused.headers['ratelimit-policy'], '"tenant";q=4;w=4');
      assert.equal(refused.headers['ratelimit'], `"tenant";r=0;t=${retryAfter}`);
    }
    for (const t of [a, b]) assert.equal((await get(t, 'r-free')).status, 200, 'another tenant is unaffected');

    // The count lives in Redis, under this deployment's key for the tenant.
    const key = (a.app.get(TENANCY_OPTIONS) as ResolvedTenancyOptions).deploymentKey;
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      assert.ok(keys.includes(`{${key}:r-metered:tenant-rate}:hits`), keys.join(', '));
      assert.ok(!keys.some((k) => k.includes('r-free')), 'a tier without a rate is never counted');
    } finally {
      client.disconnect();
    }

    // Served again, by either instance, once the block (one window) and the Retry-After are over.
    await sleep(4_200);
    assert.equal((await get(b, 'r-metered')).status, 200);
    assert.equal((await get(a, 'r-metered')).status, 200);
  });

  it('admits requests uncounted when Redis goes away, within about the 1 s command limit', async () => {
    await redis.stop();
    const started = Date.now();
    const answer = await request(a.http).get('/users').set('X-Tenant-ID', 'r-metered');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
  });
});
