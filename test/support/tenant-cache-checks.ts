import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { TenancyService, TenantCache, TenantCatalog, TenantResponseCache, type TenantDefinition } from '../../libs/tenancy/src';
import { TenantNaming } from '../../libs/tenancy/src/catalog/tenant-naming';
import { withOwnerClient } from './test-database';
import type { TestApp } from './test-app';

/** Two tenants of each model (`<prefix>-shared-a`, ...), for the tiers of DEFAULT_TIERS. */
export function tenantsOfEveryModel(prefix: string): TenantDefinition[] {
  const tiers = { shared: 'free', schema: 'pro', database: 'enterprise' };
  return Object.entries(tiers).flatMap(([model, tier]) =>
    ['a', 'b'].map((side) => ({ id: `${prefix}-${model}-${side}`, name: `${model} ${side}`, tier })),
  );
}

/**
 * Every tenant sets the same keys at once, each to its own value; each then reads its own value
 * back, never another's (through `get` and through `wrap`, whose compute must not run on a hit).
 */
export async function assertKeysApart(app: TestApp, tenants: string[]): Promise<void> {
  const tenancy = app.app.get(TenancyService);
  const cache = app.app.get(TenantCache);
  await Promise.all(tenants.map((t) => tenancy.run(t, () => cache.set('user:42', { owner: t }))));
  await Promise.all(tenants.map((t) => tenancy.run(t, () => cache.wrap('profile', () => `profile of ${t}`))));
  const seen = await Promise.all(
    tenants.map((t) =>
      tenancy.run(t, async () => ({
        value: await cache.get<{ owner: string }>('user:42'),
        wrapped: await cache.wrap('profile', () => `computed again for ${t}`),
      })),
    ),
  );
  assert.deepEqual(
    seen,
    tenants.map((t) => ({ value: { owner: t }, wrapped: `profile of ${t}` })),
  );
  // A key one tenant deletes is gone for it only.
  await tenancy.run(tenants[0], () => cache.del('user:42'));
  assert.equal(await tenancy.run(tenants[0], () => cache.get('user:42')), undefined);
  assert.deepEqual(await tenancy.run(tenants[1], () => cache.get('user:42')), { owner: tenants[1] });
}

/**
 * Runs `sql` as the owner at the tenant's place (its model's schema or database), behind the kit's
 * back: no unit of work, so nothing invalidates the tenant's cached answers. What a GET answers
 * afterwards then tells a kept answer (the old rows) from a fresh one.
 */
export async function behindTheKit(app: TestApp, tenantId: string, sql: (schema: string) => string, values: unknown[]): Promise<void> {
  const record = app.app.get(TenantCatalog).get(tenantId)!;
  const naming = app.app.get(TenantNaming);
  const database = record.strategy === 'database' ? naming.databaseFor(tenantId) : app.controlDatabase;
  const schema = record.strategy === 'shared' ? naming.sharedSchema : record.strategy === 'schema' ? naming.schemaFor(tenantId) : 'public';
  await withOwnerClient(database, (c) => c.query(sql(`"${schema}"`), values));
}

/** Counts the response cache's hits in an app (for a test to know the cache was really used). */
export function countHits(app: TestApp): { hits: number; misses: number } {
  const responses = app.app.get(TenantResponseCache);
  const counts = { hits: 0, misses: 0 };
  const lookup = responses.lookup.bind(responses);
  responses.lookup = async (...args) => {
    const found = await lookup(...args);
    if (found.hit) counts.hits++;
    else counts.misses++;
    return found;
  };
  return counts;
}

interface User {
  id: string;
  email: string;
  name: string;
}

/**
 * `total` requests, about `inFlight` at once, mixed over the tenants (GET a page of users, GET one
 * user, GET another tenant's user, POST a user, PATCH a user), each sent to one of `apps` at random,
 * and each answer checked against the tenant that sent it: no foreign row (every email is the
 * sender's), another tenant's id is 404, and no stale row after a write (each writer owns a user
 * whose name only it changes; after its PATCH answered, every page and every GET shows that name).
 * A 503 (a tiny pool's wait ran out) is retried. Returns the answers' counts by status.
 */
export async function mixedLoad(apps: TestApp[], tenants: string[], total: number, inFlight = 60): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  const send = async (tenant: string, make: (http: any) => request.Test): Promise<request.Response> => {
    for (let attempt = 0; ; attempt++) {
      const app = apps[Math.floor(Math.random() * apps.length)];
      const answer = await make(app.http).set('X-Tenant-ID', tenant);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answer.status !== 503 || attempt === 10) return answer;
      await sleep(50 + Math.random() * 100);
    }
  };
  const domain = (t: string) => `@${t}.test`;
  const workersPerTenant = Math.max(1, Math.floor(inFlight / tenants.length));
  // Each worker's own user, created before the load.
  const owned = new Map<string, { tenant: string; user: User; version: number }[]>();
  for (const tenant of tenants) {
    const mine = [];
    for (let w = 0; w < workersPerTenant; w++) {
      const created = await send(tenant, (h) =>
        request(h)
          .post('/users')
          .send({ email: `w${w}-${Date.now()}${domain(tenant)}`, name: `${tenant}:w${w}:0` }),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      mine.push({ tenant, user: created.body as User, version: 0 });
    }
    owned.set(tenant, mine);
  }
  const foreignOf = (tenant: string) => {
    const others = tenants.filter((t) => t !== tenant);
    return owned.get(others[Math.floor(Math.random() * others.length)])![0].user.id;
  };
  let left = total;
  let posted = 0;
  const worker = async (me: { tenant: string; user: User; version: number }, index: number) => {
    const { tenant } = me;
    const expectName = (u: User) => assert.equal(u.name, `${tenant}:w${index}:${me.version}`, `stale or foreign: ${JSON.stringify(u)}`);
    while (left-- > 0) {
      const dice = Math.random();
      if (dice < 0.2) {
        const version = me.version + 1;
        const patched = await send(tenant, (h) =>
          request(h)
            .patch(`/users/${me.user.id}`)
            .send({ name: `${tenant}:w${index}:${version}` }),
        );
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        me.version = version;
        expectName(patched.body);
      } else if (dice < 0.3 && posted < tenants.length * 40) {
        posted++;
        const email = `p${Math.random().toString(36).slice(2)}${domain(tenant)}`;
        const created = await send(tenant, (h) =>
          request(h)
            .post('/users')
            .send({ email, name: `${tenant}:new` }),
        );
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const page = await send(tenant, (h) => request(h).get('/users?limit=100'));
        assert.ok(
          (page.body.items as User[]).some((u) => u.email === email),
          'a user created is in the next page read',
        );
      } else if (dice < 0.6) {
        const page = await send(tenant, (h) => request(h).get('/users?limit=100'));
        assert.equal(page.status, 200, JSON.stringify(page.body));
        const items = page.body.items as User[];
        for (const u of items) assert.ok(u.email.endsWith(domain(tenant)), `tenant ${tenant} was shown ${u.email}`);
        expectName(items.find((u) => u.id === me.user.id)!);
      } else if (dice < 0.85) {
        const one = await send(tenant, (h) => request(h).get(`/users/${me.user.id}`));
        assert.equal(one.status, 200, JSON.stringify(one.body));
        expectName(one.body);
      } else {
        const foreign = await send(tenant, (h) => request(h).get(`/users/${foreignOf(tenant)}`));
        assert.equal(foreign.status, 404, `another tenant's user was answered ${foreign.status} to ${tenant}`);
      }
    }
  };
  await Promise.all([...owned.values()].flatMap((mine) => mine.map((me, i) => worker(me, i))));
  return statuses;
}
