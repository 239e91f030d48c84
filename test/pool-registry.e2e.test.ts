// The registry of per-tenant pools (database model) against real PostgreSQL: one pool per tenant
// however many requests arrive at once, a per-server budget of open connections that closes idle
// connections least recently used first (a pool's connections beyond one before any pool's last;
// never a leased pool's in-use ones; the DataSource stays), leases that reserve nothing, idle
// eviction, clean shutdown.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, it } from '@jest/globals';
import request from 'supertest';
import { PoolRegistry, TenancyService, TenantCatalog, TenantDataSource, TenantRecord } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

type Lease = Awaited<ReturnType<PoolRegistry['acquire']>>;

/** Polls `check` until it returns true, failing with `what` after `ms`. */
async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Backends connected to `database`, optionally only those of one application_name. */
async function backends(database: string, applicationName?: string): Promise<number> {
  return withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND ($2::text IS NULL OR application_name = $2) AND pid <> pg_backend_pid()`,
      [database, applicationName ?? null],
    );
    return rows[0].n;
  });
}

/** A lease runs a real query on the tenant's own database as the runtime role. */
async function assertServes(lease: Lease, database: string, role: string): Promise<void> {
  const [row] = await lease.dataSource.query(`SELECT current_database() AS db, current_user AS who`);
  assert.deepEqual(row, { db: database, who: role });
}

const TIERS = {
  free: { strategy: 'shared' as const },
  enterprise: { strategy: 'database' as const, pool: { max: 2 } },
};

describe('pool registry: one pool per tenant, budget, eviction, shutdown', () => {
  const TENANTS = ['p1', 'p2', 'p3', 'p4', 'p5'];
  let t: TestApp;
  let registry: PoolRegistry;
  let catalog: TenantCatalog;
  const record = (id: string): TenantRecord => catalog.get(id)!;
  const database = (id: string) => `${t.databaseStem}${id}`;
  const held: Lease[] = [];
  const hold = async (id: string) => {
    const lease = await registry.acquire(record(id));
    held.push(lease);
    return lease;
  };
  /** Pools and leased pools now. */
  const counts = () => ({ pools: registry.stats().pools, inUse: registry.stats().inUse });
  /** Runs one unit of work per id, each holding its connection until the returned function is called. */
  const holdConnections = async (ids: string[]) => {
    const tenancy = t.app.get(TenancyService);
    const data = t.app.get(TenantDataSource);
    let free!: () => void;
    const held = new Promise<void>((ok) => (free = ok));
    let connected = 0;
    const runs = ids.map((id) =>
      tenancy.run(id, async () => {
        await data.query('SELECT 1');
        connected++;
        await held;
      }),
    );
    await waitFor('every unit to hold its connection', () => connected === ids.length);
    return async () => {
      free();
      await Promise.all(runs);
    };
  };
  /** Waits until each tenant's database has the given number of backends (fails with what it has after 5 s). */
  const connectionsAre = async (expected: Record<string, number>) => {
    let now: Record<string, number> = {};
    const ids = Object.keys(expected);
    await waitFor(`connections ${JSON.stringify(expected)} (last seen ${JSON.stringify(now)})`, async () => {
      now = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await backends(database(id))])));
      return ids.every((id) => now[id] === expected[id]);
    }).catch(() => assert.deepEqual(now, expected));
  };
  /** Acquires and releases at once: the pool exists and is idle. */
  const touch = async (id: string) => {
    const lease = await registry.acquire(record(id));
    lease.release();
    return lease.dataSource;
  };

  beforeAll(async () => {
    delete process.env.TENANCY_POOL_IDLE_MILLIS;
    t = await startTestApp({
      tiers: TIERS,
      tenants: [
        ...TENANTS.map((id) => ({ id, name: `Tenant ${id}`, tier: 'enterprise' })),
        { id: 'p-shared', name: 'Shared', tier: 'free' },
      ],
      // Tier pool max 2 and a budget of 6 open connections per server.
      env: { TENANCY_SERVER_CONNECTION_BUDGET: '6' },
    });
    registry = t.app.get(PoolRegistry);
    catalog = t.app.get(TenantCatalog);
  });

  afterAll(async () => {
    for (const lease of held.splice(0)) lease.release();
    await t?.close();
    delete process.env.TENANCY_SERVER_CONNECTION_BUDGET;
  });

  beforeEach(async () => {
    // Each test starts with no pool at all.
    for (const lease of held.splice(0)) lease.release();
    for (const id of TENANTS) assert.equal(await registry.closeIdle(id), true, `${id} still leased`);
    assert.deepEqual(counts(), { pools: 0, inUse: 0 });
  });

  it('starts with no tenant pool: pools are created on first use', async () => {
    assert.equal(await backends(database('p1'), 'nest-tenancy:p1'), 0);
    await touch('p1');
    assert.ok((await backends(database('p1'), 'nest-tenancy:p1')) >= 1);
    assert.deepEqual(counts(), { pools: 1, inUse: 0 });
  });

  it('20 concurrent acquire() for one tenant create exactly one pool', async () => {
    const leases = await Promise.all(Array.from({ length: 20 }, () => registry.acquire(record('p1'))));
    held.push(...leases);
    assert.equal(new Set(leases.map((l) => l.dataSource)).size, 1, 'every lease holds the same DataSource');
    assert.deepEqual(counts(), { pools: 1, inUse: 1 });
    // All 20 query at once through one pool of at most 2 connections.
    await Promise.all(leases.map((l) => assertServes(l, database('p1'), t.runtimeRole)));
    const connections = await backends(database('p1'), 'nest-tenancy:p1');
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections: more than one pool was opened`);
    for (const lease of held.splice(0)) lease.release();
    assert.equal(registry.stats().inUse, 0);
    // Releasing twice is harmless and does not drive the count negative.
    leases[0].release();
    const again = await hold('p1');
    assert.equal(again.dataSource, leases[0].dataSource);
    assert.equal(registry.stats().inUse, 1);
  });

  it('concurrent first use of different tenants makes one pool each', async () => {
    const leases = await Promise.all(['p1', 'p2', 'p3', 'p1', 'p2', 'p3'].map((id) => hold(id)));
    assert.equal(new Set(leases.map((l) => l.dataSource)).size, 3);
    assert.deepEqual(counts(), { pools: 3, inUse: 3 });
    await assertServes(leases[1], database('p2'), t.runtimeRole);
  });

  it("past the budget of open connections, closes the least recently used idle pool's connection, never a leased one's", async () => {
    const p2 = await touch('p2'); // least recently used, idle: one open connection
    await touch('p3');
    const p1 = await hold('p1'); // leased throughout
    // p1 x2 and p4 x2 hold their connections: 1 + 1 + 2 + 2 = 6 open, the budget.
    const freeFirst = await holdConnections(['p1', 'p1', 'p4', 'p4']);
    assert.equal(registry.stats().open.default, 6);
    assert.equal(await backends(database('p2')), 1, 'within the budget nothing is closed');
    const closedBefore = registry.stats().evictions.idleConnections;
    // A fifth tenant's unit needs a connection: the least recently used idle pool (p2) makes room.
    const freeSecond = await holdConnections(['p5']);
    await waitFor('p2 to have no connection left', async () => (await backends(database('p2'))) === 0);
    assert.equal(registry.stats().evictions.idleConnections, closedBefore + 1, 'the metrics count the connection closed to make room');
    assert.equal(await backends(database('p3')), 1, 'p3 was used after p2: it keeps its connection');
    assert.equal(p1.dataSource.isInitialized, true, 'the leased pool of p1 stays');
    assert.ok(registry.stats().open.default <= 6, `${registry.stats().open.default} open over a budget of 6`);
    // p2 keeps its DataSource: its next use opens a connection on it, it is not built again.
    assert.equal(p2.isInitialized, true);
    await freeFirst();
    await freeSecond();
    assert.equal(await touch('p2'), p2, 'the same DataSource serves p2 again');
    assert.equal(registry.stats().pools, 5);
    await assertServes(p1, database('p1'), t.runtimeRole);
  });

  it('counts the end of a lease as use: a pool released just now is not the least recently used', async () => {
    const p1 = await hold('p1');
    await touch('p2'); // acquired after p1, but released before it
    p1.release();
    held.splice(held.indexOf(p1), 1);
    const free = await holdConnections(['p3', 'p3', 'p4', 'p4']); // 6 open
    const more = await holdConnections(['p5']); // makes room: p2 is the least recently used
    await waitFor('p2 to have no connection left', async () => (await backends(database('p2'))) === 0);
    assert.equal(await backends(database('p1')), 1, 'p1, released after p2, keeps its connection');
    await free();
    await more();
  });

  it("makes room from a pool's idle connections beyond its first before closing any pool's last one", async () => {
    // Least recently used first: p1 and p2 with two idle connections each, then p3 and p4 with one.
    await (
      await holdConnections(['p1', 'p1'])
    )();
    await (
      await holdConnections(['p2', 'p2'])
    )();
    await touch('p3');
    await touch('p4');
    await connectionsAre({ p1: 2, p2: 2, p3: 1, p4: 1, p5: 0 });
    // p5 needs one: p1, the least recently used, gives its second connection, and keeps its first.
    await touch('p5');
    await connectionsAre({ p1: 1, p2: 2, p3: 1, p4: 1, p5: 1 });
    // Two at once for p5 (its max is 2, the budget 6): p2 gives its second; every tenant keeps one.
    const free5 = await holdConnections(['p5', 'p5']);
    await connectionsAre({ p1: 1, p2: 1, p3: 1, p4: 1, p5: 2 });
    await free5();
  });

  it('the server never sees more connections than the budget while tenants take turns on it', async () => {
    let most = 0;
    let sampling = true;
    const sampler = withOwnerClient(undefined, async (c) => {
      while (sampling) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE starts_with(datname, $1) AND usename = $2`, [
          t.databaseStem,
          t.runtimeRole,
        ]);
        most = Math.max(most, rows[0].n);
      }
    });
    // 60 units over the five tenants, 8 at a time: connections keep moving between tenants.
    const tenancy = t.app.get(TenancyService);
    const data = t.app.get(TenantDataSource);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < 60; i = next++)
          await tenancy.run(TENANTS[(i * 3) % TENANTS.length], () => data.query('SELECT pg_sleep(0.01)'));
      }),
    );
    sampling = false;
    await sampler;
    assert.ok(most <= 6, `the server saw ${most} connections of the tenant pools, over the budget of 6`);
    assert.ok(most >= 4, `only ${most} connections seen: the units did not run at once`);
  });

  it('a pool opened after the first on a server sends nothing on its first connection but what its units send', async () => {
    await touch('p1'); // the first pool of the server since start, or not: either way one was opened before
    await touch('p2');
    const sent = await withOwnerClient(undefined, async (c) => {
      const { rows } = await c.query(`SELECT query FROM pg_stat_activity WHERE datname = $1 AND usename = $2`, [
        database('p2'),
        t.runtimeRole,
      ]);
      return rows.map((r) => r.query);
    });
    assert.deepEqual(sent, [''], 'TypeORM asked the new connection what an earlier pool of the server had told already');
  });

  it('a lease reserves no connection: every pool leased at once, each still serves', async () => {
    const leases = await Promise.all(TENANTS.map((id) => hold(id)));
    assert.deepEqual(counts(), { pools: 5, inUse: 5 });
    for (const [i, id] of TENANTS.entries()) await assertServes(leases[i], database(id), t.runtimeRole);
    // Tenants of other models are not affected by the database-model budget.
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'p-shared')).status, 200);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'p4')).status, 200);
  });

  it('over HTTP, a tenant whose pool was evicted is served from a re-created pool, data intact', async () => {
    const created = await request(t.http).post('/users').set('X-Tenant-ID', 'p1').send({ email: 'ada@p1.test', name: 'Ada' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitFor('the request to release its lease', () => registry.stats().inUse === 0);
    assert.equal(registry.stats().pools, 1);
    const first = await registry.acquire(record('p1'));
    first.release();

    assert.equal(await registry.closeIdle('p1'), true);
    assert.equal(first.dataSource.isInitialized, false);

    const got = await request(t.http).get(`/users/${created.body.id}`).set('X-Tenant-ID', 'p1');
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(got.body.email, 'ada@p1.test');
    const list = await request(t.http).get('/users').set('X-Tenant-ID', 'p1');
    assert.deepEqual(
      list.body.items.map((u: { id: string }) => u.id),
      [created.body.id],
    );
    await waitFor('the request to release its lease', () => registry.stats().inUse === 0);
    const second = await registry.acquire(record('p1'));
    second.release();
    assert.notEqual(second.dataSource, first.dataSource, 'the pool was re-created');
    assert.equal(second.dataSource.isInitialized, true);
    assert.ok((await backends(database('p1'), 'nest-tenancy:p1')) >= 1);
  });

  it('closeIdle refuses a leased pool and closes an idle one', async () => {
    const lease = await hold('p1');
    assert.equal(await registry.closeIdle('p1'), false);
    assert.equal(lease.dataSource.isInitialized, true);
    lease.release();
    held.splice(held.indexOf(lease), 1);
    assert.equal(await registry.closeIdle('p1'), true);
    assert.equal(lease.dataSource.isInitialized, false);
    assert.equal(registry.stats().pools, 0);
    assert.equal(await registry.closeIdle('p1'), true, 'no pool is nothing to close');
  });

  // Last: closes the app. `after` then drops the databases (a second close is a no-op).
  it('app.close() closes every pool: no connection to a tenant database or the control database remains', async () => {
    const pools = [await touch('p1'), await touch('p2'), await touch('p3')];
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'p-shared')).status, 200);
    for (const id of ['p1', 'p2', 'p3']) assert.ok((await backends(database(id))) >= 1, `${id} has no connection before close`);
    assert.ok((await backends(t.controlDatabase)) >= 1);

    await t.app.close();
    assert.ok(pools.every((ds) => !ds.isInitialized));
    assert.deepEqual(counts(), { pools: 0, inUse: 0 });
    await waitFor('every connection of the suite to end', async () => {
      const left = await withOwnerClient(undefined, async (c) => {
        const { rows } = await c.query(
          `SELECT datname, application_name FROM pg_stat_activity WHERE (datname = $1 OR starts_with(datname, $2)) AND pid <> pg_backend_pid()`,
          [t.controlDatabase, t.databasePrefix],
        );
        return rows;
      });
      return left.length === 0;
    });
  });
});

describe('pool registry: idle eviction', () => {
  let t: TestApp;
  let registry: PoolRegistry;
  let catalog: TenantCatalog;
  const IDLE = 600;

  beforeAll(async () => {
    t = await startTestApp({
      tiers: TIERS,
      tenants: [
        { id: 'q1', name: 'Q1', tier: 'enterprise' },
        { id: 'q2', name: 'Q2', tier: 'enterprise' },
      ],
      env: { TENANCY_POOL_IDLE_MILLIS: String(IDLE), TENANCY_SERVER_CONNECTION_BUDGET: '50' },
    });
    registry = t.app.get(PoolRegistry);
    catalog = t.app.get(TenantCatalog);
  });

  afterAll(async () => {
    await t?.close();
    delete process.env.TENANCY_POOL_IDLE_MILLIS;
    delete process.env.TENANCY_SERVER_CONNECTION_BUDGET;
  });

  it('closes a pool idle for longer than idleMillis, and only then', async () => {
    const lease = await registry.acquire(catalog.get('q1')!);
    await assertServes(lease, `${t.databaseStem}q1`, t.runtimeRole);
    lease.release();
    const released = Date.now();
    assert.equal(registry.stats().pools, 1);
    assert.equal(lease.dataSource.isInitialized, true);
    const evictedBefore = registry.stats().evictions.idlePools;
    await waitFor('the idle pool to be evicted', () => registry.stats().pools === 0, IDLE * 8);
    assert.equal(registry.stats().evictions.idlePools, evictedBefore + 1, 'the metrics count the eviction');
    const evictedAfter = Date.now() - released;
    assert.ok(evictedAfter >= IDLE - 50, `evicted after ${evictedAfter} ms, before idleMillis`);
    await waitFor('the evicted pool to be closed', () => !lease.dataSource.isInitialized);
    await waitFor('q1 to have no connection left', async () => (await backends(`${t.databaseStem}q1`)) === 0);
  });

  it('never evicts a leased pool, however long it is held', async () => {
    const lease = await registry.acquire(catalog.get('q2')!);
    await sleep(IDLE * 2.5);
    assert.deepEqual({ pools: registry.stats().pools, inUse: registry.stats().inUse }, { pools: 1, inUse: 1 });
    assert.equal(lease.dataSource.isInitialized, true);
    await assertServes(lease, `${t.databaseStem}q2`, t.runtimeRole);
    lease.release();
    const released = Date.now();
    await waitFor('the pool to be evicted once idle', () => registry.stats().pools === 0, IDLE * 8);
    // Idle is counted from the end of the lease, not from when it was taken (2.5 idle periods ago).
    const evictedAfter = Date.now() - released;
    assert.ok(evictedAfter >= IDLE - 50, `evicted ${evictedAfter} ms after the lease ended, before idleMillis`);
    await waitFor('the evicted pool to be closed', () => !lease.dataSource.isInitialized);
  });

  it('serves a tenant over HTTP again after its pool was evicted', async () => {
    const created = await request(t.http).post('/users').set('X-Tenant-ID', 'q1').send({ email: 'bo@q1.test', name: 'Bo' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitFor('the idle pool to be evicted', () => registry.stats().pools === 0, IDLE * 8);
    const got = await request(t.http).get(`/users/${created.body.id}`).set('X-Tenant-ID', 'q1');
    assert.equal(got.status, 200);
    assert.equal(got.body.name, 'Bo');
    assert.equal(registry.stats().pools, 1);
  });
});
