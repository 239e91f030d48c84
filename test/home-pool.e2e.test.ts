// The home pool (shared and schema models) recycles a connection after `pool.maxUses` units of work:
// under the schema model every tenant a connection serves leaves its tables' catalog entries cached
// in the server process, so bounding the units per connection bounds that cache however many
// tenants there are. Tenants keep being served across the replacements.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import { TenancyService, TenantDataSource } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';

const MAX_USES = 3;
const SCHEMA_TENANTS = ['h1', 'h2', 'h3', 'h4'];

describe('home pool: a connection serves at most pool.maxUses units of work', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' } },
      tenants: [...SCHEMA_TENANTS.map((id) => ({ id, name: id, tier: 'pro' })), { id: 'h-shared', name: 'Shared', tier: 'free' }],
      // One connection, so every unit runs on the pool's current one.
      env: { TENANCY_POOL_MAX: '1', TENANCY_POOL_MAX_USES: String(MAX_USES) },
    });
  });

  afterAll(async () => {
    await t?.close();
    delete process.env.TENANCY_POOL_MAX;
    delete process.env.TENANCY_POOL_MAX_USES;
  });

  it('replaces a connection after maxUses units, and every tenant is served on each', async () => {
    const tenancy = t.app.get(TenancyService);
    const data = t.app.get(TenantDataSource);
    const served: { tenant: string; pid: number; schema: string }[] = [];
    for (let i = 0; i < 5 * MAX_USES; i++) {
      const tenant = i % 5 === 4 ? 'h-shared' : SCHEMA_TENANTS[i % 5];
      const [row] = await tenancy.run(tenant, () =>
        data.query<{ pid: number; schema: string }[]>(`SELECT pg_backend_pid() AS pid, current_schema() AS schema`),
      );
      served.push({ tenant, pid: row.pid, schema: row.schema });
    }
    const units = new Map<number, number>();
    for (const s of served) units.set(s.pid, (units.get(s.pid) ?? 0) + 1);
    assert.ok(
      [...units.values()].every((n) => n <= MAX_USES),
      `a connection served more than ${MAX_USES} units: ${JSON.stringify([...units])}`,
    );
    assert.ok(units.size >= 5, `only ${units.size} connections for ${served.length} units`);
    for (const s of served) assert.equal(s.schema, s.tenant === 'h-shared' ? 'tenancy_shared' : `tenant_${s.tenant}`, JSON.stringify(s));
  });

  it('over HTTP too: writes and reads of schema tenants go on across replacements', async () => {
    for (const id of SCHEMA_TENANTS) {
      const created = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', id)
        .send({ email: `ada@${id}.test`, name: 'Ada' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    for (let round = 0; round < MAX_USES; round++) {
      for (const id of SCHEMA_TENANTS) {
        const list = await request(t.http).get('/users').set('X-Tenant-ID', id);
        assert.equal(list.status, 200);
        assert.deepEqual(
          list.body.items.map((u: { email: string }) => u.email),
          [`ada@${id}.test`],
        );
      }
    }
  });
});
