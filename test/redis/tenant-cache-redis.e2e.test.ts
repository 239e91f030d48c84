// The tenant cache and the response cache in Redis (REDIS_URL), shared by two instances of the
// service on one control database and one redis-server this suite starts on a free port: keys apart
// per tenant, an invalidation on one instance seen at once by the other, kept answers shared and
// invalidated by a write on either instance, 1,000 concurrent mixed requests over both instances
// with no foreign and no stale row, and Redis stopped in the middle of a load: every request still
// served, an invalidation (and so a delete) refused with a typed 503 until Redis is back.
// Needs Debian's redis-server (`npm run test:redis`, which .ci/run calls after installing it).
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  TenancyService,
  TenantCache,
  TenantCacheUnavailableError,
  TenantCatalog,
  TenantLifecycle,
  TenantLifecycleHookError,
  TenantProvisioner,
} from '../../libs/tenancy/src';
import { Deployment } from '../../libs/tenancy/src/catalog/deployment';
import { startRedis, type TestRedis } from '../support/redis-server';
import { assertKeysApart, behindTheKit, countHits, mixedLoad, tenantsOfEveryModel } from '../support/tenant-cache-checks';
import { DEFAULT_TIERS, startTestApp, TestApp } from '../support/test-app';

describe('tenant cache and response cache in Redis, shared by two instances', () => {
  const tenants = tenantsOfEveryModel('rc');
  const ids = tenants.map((t) => t.id);
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis();
    env = { REDIS_URL: redis.url, RESPONSE_CACHE_TTL_SECONDS: '60', TENANCY_POOL_MAX: '2' };
    a = await startTestApp({ tenants, tiers: { ...DEFAULT_TIERS, enterprise: { strategy: 'database', pool: { max: 2 } } }, env });
    b = await startTestApp({ join: a, env });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    for (const key of Object.keys(env ?? {})) delete process.env[key];
    await redis?.stop();
  });

  it('keeps the values of both instances in Redis, each tenant its own, under the deployment id and never a credential', async () => {
    assert.equal(a.app.get(TenantCache).storeKind, 'redis');
    assert.equal(b.app.get(TenantCache).storeKind, 'redis');
    await assertKeysApart(a, ids);
    // What one instance kept, the other reads.
    assert.deepEqual(await b.app.get(TenancyService).run(ids[1], () => b.app.get(TenantCache).get('user:42')), { owner: ids[1] });
    const secret = 'Bearer not-a-real-token-but-a-secret';
    assert.equal((await request(a.http).get('/users').set('X-Tenant-ID', ids[2]).set('Authorization', secret)).status, 200);
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      const prefix = `nest-tenancy:${a.app.get(Deployment).id}:`;
      assert.ok(keys.length > 0);
      for (const key of keys) {
        assert.ok(key.startsWith(prefix), key);
        assert.ok(
          ids.some((id) => key.startsWith(`${prefix}${id}:`)),
          `a key of no tenant: ${key}`,
        );
        assert.ok(!key.includes('not-a-real-token'), `a credential in a key: ${key}`);
      }
    } finally {
      client.disconnect();
    }
  });

  it("sees one instance's invalidation at once on the other, through the generation in Redis", async () => {
    const [id] = ids;
    await a.app.get(TenancyService).run(id, () => a.app.get(TenantCache).set('k', 'shared'));
    const read = () => b.app.get(TenancyService).run(id, () => b.app.get(TenantCache).get('k'));
    assert.equal(await read(), 'shared');
    await a.app.get(TenantCache).invalidate(id);
    assert.equal(await read(), undefined);
  });

  it("shares kept answers between the instances, and a write on one invalidates the other's", async () => {
    const id = ids[4];
    const post = (t: TestApp, name: string) =>
      request(t.http)
        .post('/users')
        .set('X-Tenant-ID', id)
        .send({ email: `${name.toLowerCase()}-${Date.now()}@${id}.test`, name });
    assert.equal((await post(a, 'First')).status, 201);
    const kept = await request(a.http).get('/users?limit=100').set('X-Tenant-ID', id);
    await behindTheKit(a, id, (s) => `UPDATE ${s}.users SET name = 'behind' WHERE tenant_id = $1`, [id]);
    const onB = await request(b.http).get('/users?limit=100').set('X-Tenant-ID', id);
    assert.deepEqual(onB.body, kept.body, 'the other instance did not serve the answer kept by the first');
    assert.equal((await post(a, 'Second')).status, 201);
    const fresh = await request(b.http).get('/users?limit=100').set('X-Tenant-ID', id);
    assert.ok(
      fresh.body.items.some((u: { name: string }) => u.name === 'Second'),
      JSON.stringify(fresh.body),
    );
  });

  it("empties a suspended tenant's values for both instances", async () => {
    const id = ids[3];
    await b.app.get(TenancyService).run(id, () => b.app.get(TenantCache).set('k', 'before'));
    await a.app.get(TenantLifecycle).suspend(id);
    await a.app.get(TenantLifecycle).resume(id);
    for (const t of [a, b]) assert.equal(await t.app.get(TenancyService).run(id, () => t.app.get(TenantCache).get('k')), undefined);
  });

  it('answers 1,000 concurrent mixed requests over three models and both instances with no foreign and no stale row', async () => {
    const hits = [countHits(a), countHits(b)];
    const statuses = await mixedLoad([a, b], ids, 1_000);
    const unexpected = Object.keys(statuses).filter((s) => !['200', '201', '404', '503'].includes(s));
    assert.deepEqual(unexpected, [], JSON.stringify(statuses));
    assert.ok(hits[0].hits + hits[1].hits > 0, `the response cache served nothing (${JSON.stringify(hits)})`);
  });

  it('serves every request while Redis stops in the middle of a load; refuses an invalidation and a delete until it is back', async () => {
    const load = mixedLoad([a, b], ids, 400);
    await sleep(300);
    await redis.stop();
    const statuses = await load;
    const unexpected = Object.keys(statuses).filter((s) => !['200', '201', '404', '503'].includes(s));
    assert.deepEqual(unexpected, [], JSON.stringify(statuses));
    // Down: a read is a miss (quickly), a write is skipped, requests are served.
    const started = Date.now();
    const answer = await request(b.http).get('/users').set('X-Tenant-ID', ids[0]);
    assert.equal(answer.status, 200);
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
    const run = a.app.get(TenancyService);
    const cache = a.app.get(TenantCache);
    await run.run(ids[0], () => cache.set('k', 'lost'));
    assert.equal(await run.run(ids[0], () => cache.get('k')), undefined);
    await assert.rejects(cache.invalidate(ids[0]), TenantCacheUnavailableError);

    const id = 'rc-del';
    await a.app.get(TenantProvisioner).provision({ id, name: id, tier: 'free' });
    await assert.rejects(a.app.get(TenantLifecycle).remove(id, { force: true }), (err: unknown) => {
      assert.ok(err instanceof TenantLifecycleHookError, String(err));
      assert.match(err.message, /tenant cache/);
      return true;
    });
    assert.equal(a.app.get(TenantCatalog).get(id)?.status, 'deleting');

    // Back (empty, on the same port): the delete finishes, the cache works again.
    redis = await startRedis(redis.port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await a.app.get(TenantLifecycle).remove(id);
        break;
      } catch (err) {
        if (!(err instanceof TenantLifecycleHookError) || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    assert.equal(a.app.get(TenantCatalog).get(id), undefined);
    await run.run(ids[0], () => cache.set('k', 'kept again'));
    // The other instance reconnects by itself (within its 2 s back-off).
    const readOnB = () => b.app.get(TenancyService).run(ids[0], () => b.app.get(TenantCache).get('k'));
    const until = Date.now() + 10_000;
    while ((await readOnB()) !== 'kept again' && Date.now() < until) await sleep(200);
    assert.equal(await readOnB(), 'kept again');
  });
});
