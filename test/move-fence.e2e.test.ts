// A move's freeze and switch are enforced by the database, not by every instance hearing NOTIFY in
// time. Plain PostgreSQL (no pooler): a second instance whose catalog listener and re-read are
// stopped (as behind a transaction pooler that swallows LISTEN) keeps believing the tenant is where
// it was. Its writes during the freeze, and after the switch, get 503 with Retry-After and land
// nowhere; every 201 it gave is at the new place. Also: a NOTIFY on the catalog channel sent as the
// runtime role (any role may NOTIFY) only triggers a bounded re-read and cannot change what is served.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import {
  IsolationModel,
  TenancyService,
  TenantCatalog,
  TenantLifecycle,
  TenantMover,
  TenantMovingError,
  TenantProvisioner,
} from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { LocationFence } from '../libs/tenancy/src/strategies/location-fence';
import { UsersService } from '../src/users/users.service';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';
import { rowsOfTable, tenantFootprint, waitFor } from './support/tenant-rows';

const ROUTES: [string, IsolationModel, IsolationModel][] = [
  ['fence-shared', 'shared', 'schema'],
  ['fence-schema', 'schema', 'database'],
  ['fence-database', 'database', 'shared'],
];

/** A runtime-role connection string for the suite's control database. */
async function runtimeUrl(t: TestApp): Promise<string> {
  const password = await withOwnerClient(
    t.controlDatabase,
    async (c) => (await c.query(`SELECT value FROM tenancy.settings WHERE key = $1`, [`runtime_password:${t.runtimeRole}`])).rows[0].value,
  );
  const url = new URL(t.databaseUrl);
  url.username = t.runtimeRole;
  url.password = password;
  return url.toString();
}

describe('a move is fenced by the database', () => {
  let t: TestApp;
  let stale: TestApp;
  let mover: TenantMover;

  beforeAll(async () => {
    t = await startTestApp({ tenants: ROUTES.map(([id, strategy]) => ({ id, name: id, strategy })) });
    stale = await startTestApp({ join: t });
    // The second instance hears nothing from now on: no listener, no periodic re-read, no refresh.
    await stale.app.get(TenantCatalog).onApplicationShutdown();
    mover = t.app.get(TenantMover);
  });
  afterAll(async () => {
    await stale?.close();
    await t?.close();
  });

  for (const [id, from, to] of ROUTES) {
    it(`${from} -> ${to}: a stale instance's writes get 503 during the freeze and after the switch, and land nowhere`, async () => {
      const post = (app: TestApp, email: string) => request(app.http).post('/users').set('X-Tenant-ID', id).send({ email, name: 'Fenced' });
      const made = await post(stale, `before@${id}.test`);
      assert.equal(made.status, 201, made.text);

      mover.freezeGraceMillis = 1_500;
      const moving = mover.move(id, { strategy: to });
      moving.catch(() => undefined);
      try {
        await withOwnerClient(t.controlDatabase, (c) =>
          waitFor(
            'the freeze',
            async () => (await c.query(`SELECT phase FROM tenancy.tenant_moves WHERE tenant_id = $1`, [id])).rows[0]?.phase === 'freezing',
            30_000,
            5,
          ),
        );
        assert.equal(stale.app.get(TenantCatalog).get(id)?.status, 'active', 'the stale instance has not heard of the freeze');
        const during = await post(stale, `during@${id}.test`);
        assert.equal(during.status, 503, `a write during the freeze: ${during.status} ${during.text}`);
        assert.ok(Number(during.headers['retry-after']) >= 1, 'with Retry-After');
        assert.doesNotMatch(during.text, /read-only|25006|transaction/i, 'no driver message reaches the client');
        const read = await request(stale.http).get(`/users/${made.body.id}`).set('X-Tenant-ID', id);
        assert.equal(read.status, 200, 'reads go on during the freeze');
        // Outside HTTP too (a job on the stale instance): a typed error to retry, not a driver error.
        await assert.rejects(
          stale.app.get(TenancyService).run(id, () => stale.app.get(UsersService).create({ email: `job@${id}.test`, name: 'Job' })),
          (err: unknown) => err instanceof TenantMovingError && err.retryAfterSeconds > 0,
        );
      } finally {
        mover.freezeGraceMillis = 0;
        await moving.catch(() => undefined);
      }
      await moving;
      assert.equal(t.app.get(TenantCatalog).get(id)?.strategy, to);
      assert.equal(stale.app.get(TenantCatalog).get(id)?.strategy, from, 'the stale instance still sends the tenant to its old place');

      const afterSwitch = await post(stale, `after@${id}.test`);
      assert.equal(afterSwitch.status, 503, `a write after the switch: ${afterSwitch.status} ${afterSwitch.text}`);
      assert.ok(Number(afterSwitch.headers['retry-after']) >= 1);

      const users = rowsOfTable(await tenantFootprint(t.controlDatabase, t.databasePrefix, id), 'users');
      assert.deepEqual(
        // By id: the email is stored encrypted.
        users.map((l) => [l.location.split('.').slice(1).join('.'), l.rows.map((r) => r.id)]),
        [
          [
            to === 'database' ? 'public.users' : to === 'schema' ? `tenant_${id.replace(/-/g, '_')}.users` : 'tenancy_shared.users',
            [made.body.id],
          ],
        ],
        'only the acknowledged write, only at the new place; the refused ones are nowhere',
      );
      const served = await request(t.http).get('/users').set('X-Tenant-ID', id);
      assert.deepEqual(
        served.body.items.map((u: { email: string }) => u.email),
        [`before@${id}.test`],
        'served from the new place',
      );
      const strategies = t.app.get(IsolationStrategies);
      assert.equal(
        await t.app.get(LocationFence).isFenced(strategies.for(to).location({ id, server: 'default' }), id),
        false,
        'the new place is not fenced',
      );
      if (from === 'shared') {
        assert.equal(
          await t.app.get(LocationFence).isFenced(strategies.for('shared').location({ id, server: 'default' }), id),
          true,
          'the shared tables stay fenced for it',
        );
      }
    });
  }

  it('a failed move lifts the fence it set at the source', async () => {
    const id = 'fence-failed';
    await t.app.get(TenantProvisioner).provision({ id, name: id, strategy: 'shared' });
    const fence = t.app.get(LocationFence);
    const location = t.app.get(IsolationStrategies).for('shared').location({ id, server: 'default' });
    // A runtime transaction held open through the barrier abandons the move.
    const blocker = new Client({ connectionString: await runtimeUrl(t) });
    await blocker.connect();
    mover.freezeBarrierMillis = 300;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1');
      await assert.rejects(mover.move(id, { strategy: 'schema' }), /stayed open through the freeze/);
    } finally {
      mover.freezeBarrierMillis = 5_000;
      await blocker.end();
    }
    assert.equal(await fence.isFenced(location, id), false, 'the source is unfenced');
    assert.equal(t.app.get(TenantCatalog).get(id)?.status, 'active');
    const res = await request(t.http).post('/users').set('X-Tenant-ID', id).send({ email: 'ok@fence-failed.test', name: 'Ok' });
    assert.equal(res.status, 201, res.text);
  });

  describe('NOTIFY on the catalog channel', () => {
    it('sent as the runtime role, with forged or garbage payloads: only bounded re-reads, nothing served changes', async () => {
      const id = 'fence-shared';
      const catalog = t.app.get(TenantCatalog);
      const before = { ...catalog.get(id)! };
      const served = (await request(t.http).get('/users').set('X-Tenant-ID', id)).body;
      let reads = 0;
      let inFlight = 0;
      let maxInFlight = 0;
      const refresh = catalog.refresh.bind(catalog);
      catalog.refresh = async (tenant: string) => {
        reads++;
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await refresh(tenant);
        } finally {
          inFlight--;
        }
      };
      const runtime = new Client({ connectionString: await runtimeUrl(t) });
      await runtime.connect();
      try {
        const garbage = [
          '',
          'NOT A TENANT',
          '../../etc',
          `{"id":"${id}","strategy":"database","status":"suspended"}`,
          'x'.repeat(7_000),
          "'; DROP TABLE tenancy.tenants; --",
          '*',
        ];
        for (const payload of garbage) await runtime.query(`SELECT pg_notify('tenancy_catalog', $1)`, [payload]);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(reads, 0, 'a payload that is not a tenant id is ignored');
        // A flood naming a real tenant: re-reads of that one row, never two at once, never more than sent.
        const sent = 300;
        await Promise.all(Array.from({ length: sent }, () => runtime.query(`SELECT pg_notify('tenancy_catalog', $1)`, [id])));
        await waitFor('the re-reads to settle', () => inFlight === 0 && reads > 0, 5_000, 20);
        await new Promise((r) => setTimeout(r, 200));
        console.log(`# ${sent} forged notifications naming a tenant: ${reads} catalog re-reads, at most ${maxInFlight} at once`);
        assert.equal(maxInFlight, 1);
        assert.ok(reads <= sent);
      } finally {
        catalog.refresh = refresh;
        await runtime.end();
      }
      assert.deepEqual(catalog.get(id), before, 'the catalog entry is what the table says');
      assert.deepEqual((await request(t.http).get('/users').set('X-Tenant-ID', id)).body, served, 'the same answer');
    });
  });

  it('deleting a tenant removes the fence a move left for it in the shared tables', async () => {
    const id = 'fence-shared';
    const fence = t.app.get(LocationFence);
    const shared = t.app.get(IsolationStrategies).for('shared').location({ id, server: 'default' });
    assert.equal(await fence.isFenced(shared, id), true);
    await t.app.get(TenantLifecycle).remove(id, { force: true });
    assert.equal(await fence.isFenced(shared, id), false);
  });
});
