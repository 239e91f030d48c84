// Attack (A7): Express matches routes case-insensitively, but `resolution.exclude` is compared
// case-sensitively by the shedding and resolution middlewares. So `GET /HEALTH` and
// `GET /Health/ready` reach the health controller but are treated as tenant-scoped: without a tenant
// header they get 400 "No tenant given", and with the header of a tenant past its rate they get
// 429 from the shedding middleware. A path the router serves as an excluded route must be treated
// as excluded (or not be routed at all): never 400 for a missing tenant, never a tenant's 429.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';

describe('resolution.exclude and the case of the path', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      tiers: { metered: { strategy: 'shared', rate: { perSecond: 0.01, burst: 1 } } },
      tenants: [{ id: 'metered-co', name: 'Metered', tier: 'metered' }],
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  for (const path of ['/HEALTH', '/Health/ready']) {
    it(`${path} without a tenant is not refused for a missing tenant`, async () => {
      const res = await request(t.http).get(path);
      assert.ok([200, 404].includes(res.status), `${path}: ${res.status} ${res.text}`);
    });
  }

  it("/HEALTH naming a tenant past its rate is not that tenant's 429", async () => {
    // The tenant spends its one token, then is past its rate for about 100 s.
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'metered-co')).status, 200);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'metered-co')).status, 429);
    assert.equal((await request(t.http).get('/health').set('X-Tenant-ID', 'metered-co')).status, 200);
    const res = await request(t.http).get('/HEALTH').set('X-Tenant-ID', 'metered-co');
    assert.ok([200, 404].includes(res.status), `/HEALTH: ${res.status} ${res.text}`);
  });
});
