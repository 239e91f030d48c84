// The tenant cache and the response cache on the memory store (the default): keys apart per tenant
// in all three models, the typed error outside a tenant, a deleted, suspended or moved tenant's
// values gone (also from a second instance, which hears it through the catalog), a delete that is not
// done while a lifecycle listener fails, kept answers served until the tenant writes and never to
// another tenant, and 1,000 concurrent mixed requests on a tiny pool with the response cache on:
// no foreign row, no stale row after a write. The Redis store: test/redis/tenant-cache-redis.e2e.test.ts.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import {
  NoTenantContextError,
  TenancyService,
  TenantCache,
  TenantCatalog,
  TenantLifecycle,
  TenantLifecycleHookError,
  TenantLifecycleHooks,
  TenantMover,
  TenantProvisioner,
  type IsolationModel,
} from '../libs/tenancy/src';
import { assertKeysApart, behindTheKit, countHits, mixedLoad, tenantsOfEveryModel } from './support/tenant-cache-checks';
import { DEFAULT_TIERS, startTestApp, TestApp } from './support/test-app';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const TIER_OF: Record<IsolationModel, string> = { shared: 'free', schema: 'pro', database: 'enterprise' };
const ENV = { RESPONSE_CACHE_TTL_SECONDS: '60', TENANCY_POOL_MAX: '2' };

/** Waits until `check` holds (at most `millis`), then asserts it. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, millis = 5_000): Promise<void> {
  const deadline = Date.now() + millis;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${millis} ms: ${what}`);
    await sleep(50);
  }
}

describe('tenant cache and response cache, memory store', () => {
  const tenants = tenantsOfEveryModel('tc');
  const ids = tenants.map((t) => t.id);
  let app: TestApp;
  let tenancy: TenancyService;
  let cache: TenantCache;

  beforeAll(async () => {
    app = await startTestApp({
      tenants,
      // A tiny pool everywhere: two connections for the home database, two per tenant database.
      tiers: { ...DEFAULT_TIERS, enterprise: { strategy: 'database', pool: { max: 2 } } },
      env: ENV,
    });
    tenancy = app.app.get(TenancyService);
    cache = app.app.get(TenantCache);
  });

  afterAll(async () => {
    await app?.close();
    for (const key of Object.keys(ENV)) delete process.env[key];
  });

  it("keeps values in this process's memory by default", () => {
    assert.equal(cache.storeKind, 'memory');
  });

  it("gives each tenant its own value of a key, in every model, never another tenant's", async () => {
    await assertKeysApart(app, ids);
  });

  it('throws NoTenantContextError outside a tenant, as a query there does', async () => {
    await assert.rejects(cache.get('k'), NoTenantContextError);
    await assert.rejects(cache.set('k', 1), NoTenantContextError);
    await assert.rejects(cache.del('k'), NoTenantContextError);
    await assert.rejects(
      cache.wrap('k', () => 1),
      NoTenantContextError,
    );
    await assert.rejects(cache.invalidate(), NoTenantContextError);
    // An operator names the tenant: that works anywhere.
    await tenancy.run(ids[0], () => cache.set('k', 'before'));
    await cache.invalidate(ids[0]);
    assert.equal(await tenancy.run(ids[0], () => cache.get('k')), undefined);
  });

  it.each(MODELS)("empties a deleted tenant's values and kept answers (%s): provisioned again, it finds none", async (model) => {
    const id = `tc-del-${model}`;
    const provisioner = app.app.get(TenantProvisioner);
    await provisioner.provision({ id, name: id, tier: TIER_OF[model] });
    await tenancy.run(id, () => cache.set('k', 'old life'));
    const created = await request(app.http)
      .post('/users')
      .set('X-Tenant-ID', id)
      .send({ email: `ada@${id}.test`, name: 'Ada' });
    assert.equal(created.status, 201);
    const kept = await request(app.http).get('/users').set('X-Tenant-ID', id);
    assert.equal(kept.body.items.length, 1);

    await app.app.get(TenantLifecycle).remove(id, { force: true });
    await provisioner.provision({ id, name: id, tier: TIER_OF[model] });
    assert.equal(await tenancy.run(id, () => cache.get('k')), undefined);
    const fresh = await request(app.http).get('/users').set('X-Tenant-ID', id);
    assert.equal(fresh.status, 200);
    assert.deepEqual(fresh.body.items, [], "the deleted tenant's kept answer was served to its successor");
  });

  it("empties a suspended tenant's values", async () => {
    const lifecycle = app.app.get(TenantLifecycle);
    for (const id of [ids[0], ids[2], ids[4]]) {
      await tenancy.run(id, () => cache.set('k', 'before suspension'));
      await lifecycle.suspend(id);
      await lifecycle.resume(id);
      assert.equal(await tenancy.run(id, () => cache.get('k')), undefined, id);
    }
  });

  it("empties a moved tenant's values at each move, through all three models", async () => {
    const id = 'tc-move';
    await app.app.get(TenantProvisioner).provision({ id, name: id, tier: 'free' });
    for (const strategy of ['database', 'schema', 'shared'] as const) {
      await tenancy.run(id, () => cache.set('k', `before moving to ${strategy}`));
      await app.app.get(TenantMover).move(id, { strategy });
      assert.equal(app.app.get(TenantCatalog).get(id)?.strategy, strategy);
      assert.equal(await tenancy.run(id, () => cache.get('k')), undefined, strategy);
    }
  });

  it("does not finish a delete while a listener cannot forget the tenant: it stays 'deleting', and a second delete finishes", async () => {
    const id = 'tc-del-hook';
    await app.app.get(TenantProvisioner).provision({ id, name: id, tier: 'pro' });
    const unregister = app.app.get(TenantLifecycleHooks).register({
      name: 'a search index',
      onTenantEvent: () => Promise.reject(new Error('index unreachable')),
    });
    try {
      const failed = await app.app
        .get(TenantLifecycle)
        .remove(id, { force: true })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      assert.ok(failed instanceof TenantLifecycleHookError, String(failed));
      assert.equal(failed.getStatus(), 503);
      assert.match(failed.message, /a search index: index unreachable/);
      assert.match(failed.message, /run the delete again/);
      assert.equal(app.app.get(TenantCatalog).get(id)?.status, 'deleting');
      assert.equal((await request(app.http).get('/users').set('X-Tenant-ID', id)).status, 404);
    } finally {
      unregister();
    }
    await app.app.get(TenantLifecycle).remove(id);
    assert.equal(app.app.get(TenantCatalog).get(id), undefined);
  });

  it.each(MODELS)('serves a kept answer (%s) until the tenant writes, and never to another tenant', async (model) => {
    const [a, b] = [`tc-${model}-a`, `tc-${model}-b`];
    const post = (t: string, name: string) =>
      request(app.http)
        .post('/users')
        .set('X-Tenant-ID', t)
        .send({ email: `${name.toLowerCase()}-${Date.now()}@${t}.test`, name });
    assert.equal((await post(a, 'Kept')).status, 201);
    assert.equal((await post(b, 'Other')).status, 201);
    const first = await request(app.http).get('/users?limit=100').set('X-Tenant-ID', a);
    assert.equal(first.status, 200);
    // Changed behind the kit's back: a fresh answer would show it, a kept one does not.
    await behindTheKit(app, a, (s) => `UPDATE ${s}.users SET name = 'behind' WHERE tenant_id = $1`, [a]);
    const again = await request(app.http).get('/users?limit=100').set('X-Tenant-ID', a);
    assert.deepEqual(again.body, first.body, 'the second GET was not served from the response cache');
    // The same URL for another tenant: its own rows.
    const other = await request(app.http).get('/users?limit=100').set('X-Tenant-ID', b);
    assert.ok(other.body.items.length > 0);
    for (const u of other.body.items) assert.ok(u.email.endsWith(`@${b}.test`), u.email);
    // A write of the tenant: the next GET is fresh.
    assert.equal((await post(a, 'After')).status, 201);
    const fresh = await request(app.http).get('/users?limit=100').set('X-Tenant-ID', a);
    assert.ok(fresh.body.items.some((u: { name: string }) => u.name === 'After'));
    assert.ok(fresh.body.items.some((u: { name: string }) => u.name === 'behind'));
  });

  it('keeps an answer per credentials and per Accept: another caller of the same tenant and URL is not served it', async () => {
    const id = ids[2];
    const get = (authorization: string, accept = 'application/json') =>
      request(app.http).get('/users?limit=100').set('X-Tenant-ID', id).set('Authorization', authorization).set('Accept', accept);
    const post = await request(app.http)
      .post('/users')
      .set('X-Tenant-ID', id)
      .send({ email: `cred-${Date.now()}@${id}.test`, name: 'Cred' });
    assert.equal(post.status, 201);
    const first = await get('Bearer one');
    await behindTheKit(app, id, (s) => `UPDATE ${s}.users SET name = 'changed for two' WHERE tenant_id = $1`, [id]);
    assert.deepEqual((await get('Bearer one')).body, first.body, 'the same caller is served the kept answer');
    for (const other of [await get('Bearer two'), await get('Bearer one', 'application/json, */*')]) {
      assert.ok(
        other.body.items.every((u: { name: string }) => u.name === 'changed for two'),
        'another caller (or another Accept) got an answer kept for someone else',
      );
    }
  });

  it("keeps each instance's memory apart, and a lifecycle change on one instance empties the other's (through the catalog)", async () => {
    const second = await startTestApp({ join: app, env: ENV });
    try {
      const [id] = ids;
      const theirs = second.app.get(TenantCache);
      const run = second.app.get(TenancyService);
      await run.run(id, () => theirs.set('k', 'on the second instance'));
      assert.equal(await tenancy.run(id, () => cache.get('k')), undefined, 'the memory store is per instance');
      await app.app.get(TenantLifecycle).suspend(id);
      await eventually(() => second.app.get(TenantCatalog).get(id)?.status === 'suspended', 'the second instance hears the suspension');
      await app.app.get(TenantLifecycle).resume(id);
      await eventually(() => second.app.get(TenantCatalog).get(id)?.status === 'active', 'the second instance hears the resumption');
      await eventually(async () => (await run.run(id, () => theirs.get('k'))) === undefined, "the second instance's value is gone");
    } finally {
      await second.close();
    }
  });

  it('answers 1,000 concurrent mixed requests over three models on a tiny pool with no foreign and no stale row', async () => {
    const counts = countHits(app);
    const statuses = await mixedLoad([app], ids, 1_000);
    const unexpected = Object.keys(statuses).filter((s) => !['200', '201', '404', '503'].includes(s));
    assert.deepEqual(unexpected, [], JSON.stringify(statuses));
    assert.ok(counts.hits > 0, `the response cache served nothing (${JSON.stringify(counts)})`);
  });
});
