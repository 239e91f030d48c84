// Behind PgBouncer in transaction mode (npm run test:pooler): a move of a tenant of each model while
// clients keep posting users through two instances, one of which cannot hear LISTEN (its direct URL
// goes through the pooler too, so its catalog is stale until its fallback re-read). Zero lost
// acknowledged writes: every user that got a 201 is at the new place after the move, and nowhere else.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { IsolationModel, TenantCatalog, TenantMover } from '../../libs/tenancy/src';
import { startTestApp, TestApp } from '../support/test-app';
import { rowsOfTable, tenantFootprint, waitFor } from '../support/tenant-rows';

const SECRET = 'pooler-move-suite-secret-0123456789abcdef';
const ROUTES: [string, IsolationModel, IsolationModel][] = [
  ['pm-shared', 'shared', 'schema'],
  ['pm-schema', 'schema', 'database'],
  ['pm-database', 'database', 'shared'],
];

function placeOf(t: TestApp, tenant: string, model: IsolationModel): string {
  const safe = tenant.replace(/-/g, '_');
  if (model === 'database') return `${t.databaseStem}${safe}.public.users`;
  return `${t.controlDatabase}.${model === 'schema' ? `tenant_${safe}` : 'tenancy_shared'}.users`;
}

/** Clients posting users in a loop to one instance until stopped; keeps every answer. */
class Writers {
  readonly created = new Set<string>();
  readonly statuses: Record<number, number> = {};
  readonly unexpected: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(base: string, tenant: string, clients: number, tag: string) {
    this.loops = Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; this.running; i++) {
        const res = await fetch(`${base}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
          body: JSON.stringify({ email: `${tag}-${c}-${i}@${tenant}.test`, name: `Writer ${c}` }),
        });
        const body = await res.text();
        this.statuses[res.status] = (this.statuses[res.status] ?? 0) + 1;
        if (res.status === 201) this.created.add(JSON.parse(body).id);
        else if (res.status === 503) {
          if (!res.headers.get('retry-after')) this.unexpected.push(`503 without Retry-After: ${body}`);
          await new Promise((r) => setTimeout(r, 20));
        } else this.unexpected.push(`${res.status} ${body}`);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

describe('moves behind PgBouncer in transaction mode', () => {
  let t: TestApp;
  let stale: TestApp;
  let base: string;
  let staleBase: string;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp({
      tenants: ROUTES.map(([id, strategy]) => ({ id, name: id, strategy })),
      env: { JWT_SECRET: SECRET },
      pooler: 'requests',
    });
    stale = await startTestApp({ join: t, pooler: 'both' });
    for (const app of [t, stale]) await new Promise<void>((ok) => app.http.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(t.http.address() as AddressInfo).port}`;
    staleBase = `http://127.0.0.1:${(stale.http.address() as AddressInfo).port}`;
    admin = await new SignJWT({ role: 'super_admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(SECRET));
  });
  afterAll(async () => {
    await stale?.close();
    await t?.close();
  });

  it('the listener behind the pooler is seen not to deliver, and falls back to the short re-read', () => {
    assert.equal(t.app.get(TenantCatalog).listenDelivers, true, 'direct URL: LISTEN delivers');
    assert.equal(stale.app.get(TenantCatalog).listenDelivers, false, 'through the pooler: the probe never arrives');
  });

  for (const [id, from, to] of ROUTES) {
    it(`${from} -> ${to} under write load through both instances: zero lost acknowledged writes`, async () => {
      assert.equal(stale.app.get(TenantCatalog).get(id)?.strategy, from);
      const tag = `${from}-${to}`;
      const writers = [new Writers(base, id, 2, `${tag}-a`), new Writers(staleBase, id, 2, `${tag}-b`)];
      let report;
      let staleSawSwitchAfter = 0;
      try {
        await new Promise((r) => setTimeout(r, 400));
        report = await t.app.get(TenantMover).move(id, { strategy: to });
        const switched = Date.now();
        staleSawSwitchAfter = await waitFor(
          'the stale instance to see the switch',
          () => stale.app.get(TenantCatalog).get(id)?.strategy === to,
          10_000,
          5,
        );
        void switched;
        await new Promise((r) => setTimeout(r, 400));
      } finally {
        await Promise.all(writers.map((w) => w.stop()));
      }
      assert.deepEqual(
        writers.flatMap((w) => w.unexpected),
        [],
        'only 201 and 503 (with Retry-After)',
      );
      const acknowledged = new Set(writers.flatMap((w) => [...w.created]));
      const users = rowsOfTable(await tenantFootprint(t.controlDatabase, t.databasePrefix, id), 'users');
      assert.deepEqual(
        users.map((l) => l.location),
        [placeOf(t, id, to)],
        'rows only at the new place',
      );
      const there = new Set(users[0].rows.map((r) => r.id as string));
      const lost = [...acknowledged].filter((u) => !there.has(u));
      const refused = writers.reduce((n, w) => n + (w.statuses[503] ?? 0), 0);
      console.log(
        `# pooler ${from} -> ${to}: ${acknowledged.size} writes got 201, lost ${lost.length}, ${refused} got 503 ` +
          `(stale instance: ${writers[1].statuses[201] ?? 0} x 201, ${writers[1].statuses[503] ?? 0} x 503); writes paused ${report!.freezeMillis} ms; ` +
          `the stale instance saw the switch ${staleSawSwitchAfter} ms after it`,
      );
      assert.equal(lost.length, 0, `lost acknowledged writes: ${lost.slice(0, 5).join(', ')}`);
      assert.ok(acknowledged.size > 0 && (writers[1].statuses[201] ?? 0) > 0, 'both instances wrote');
      assert.equal(there.size, acknowledged.size, 'and nothing that was refused');
    });
  }

  it('a suspend shows through the stale instance within its fallback re-read', async () => {
    const id = 'pm-shared';
    const started = Date.now();
    const res = await fetch(`${base}/admin/tenants/${id}/suspend`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200, await res.text());
    const shown = await waitFor(
      'the suspend through the stale instance',
      async () => (await fetch(`${staleBase}/users`, { headers: { 'x-tenant-id': id } })).status === 403,
      10_000,
      20,
    );
    const resumed = await fetch(`${base}/admin/tenants/${id}/resume`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(resumed.status, 200);
    const resumeShown = await waitFor(
      'the resume through the stale instance',
      async () => (await fetch(`${staleBase}/users`, { headers: { 'x-tenant-id': id } })).status === 200,
      10_000,
      20,
    );
    console.log(
      `# pooler: a suspend showed through the stale instance after ${shown} ms (${Date.now() - started} ms in all), the resume after ${resumeShown} ms`,
    );
    assert.ok(shown < 2_500, `suspend took ${shown} ms`);
    assert.ok(resumeShown < 2_500, `resume took ${resumeShown} ms`);
  });
});
