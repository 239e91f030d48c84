// Usage and cost per tenant, noisy neighbours: the usage ledger's totals equal the requests sent
// (per tenant, in all three models, with their errors and rows written), in the control database
// and through the admin API; the costs follow the prices of the tenants file (a tier's own
// override); a flooding tenant is reported noisy, logged, counted in the metrics and held to its
// tier's rate (429) while the others are served; bad input is 400, no token 401, a tenant's token
// 403, an unknown tenant 404; `tenancy usage` prints the same figures; TENANCY_USAGE=off records nothing;
// a tenant deleted and provisioned again starts from zero (on this instance and another); a `to` in
// the future is capped at now.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { JWTPayload, SignJWT } from 'jose';
import request from 'supertest';
import {
  BYTES_PER_GB,
  HOURS_PER_MONTH,
  NoisyNeighbours,
  TenantActivity,
  UsageLedger,
  type TenantRecord,
  type TenantDefinition,
  type TierDefinition,
  type UnitPrices,
} from '../libs/tenancy/src';
import { assertReadable, run } from './support/cli-run';
import { startTestApp, type TestApp } from './support/test-app';
import { childProcessEnv, withOwnerClient } from './support/test-database';

const SECRET = 'usage-suite-secret-0123456789abcdef-0123';
const METRICS_TOKEN = 'usage-suite-metrics-token-0123456789';

/** Prices that make small figures visible at six decimals. */
const PRICES: UnitPrices = { currency: 'EUR', computePerMillionRequests: 1000, databasePerHour: 3600, storagePerGbMonth: 730 };
/** The shared tier's own compute price: overrides the file's. */
const FREE_COMPUTE = 5000;
const LIMITS = { lockMillis: 300 };
const TIERS: Record<string, TierDefinition> = {
  free: { strategy: 'shared', limits: LIMITS, prices: { computePerMillionRequests: FREE_COMPUTE } },
  pro: { strategy: 'schema', limits: LIMITS },
  enterprise: { strategy: 'database', pool: { max: 3 }, limits: LIMITS },
  // Not rate-limited until it is noisy; then 5 a second.
  loud: { strategy: 'shared', rate: { perSecond: 5 }, throttleWhenNoisy: true },
};
const COUNTED = ['u-shared', 'u-schema', 'u-db'];
const QUIET = ['q-shared', 'q-schema', 'q-db'];
const TENANTS: TenantDefinition[] = [
  { id: 'u-shared', name: 'U Shared', tier: 'free' },
  { id: 'u-schema', name: 'U Schema', tier: 'pro' },
  { id: 'u-db', name: 'U Db', tier: 'enterprise' },
  { id: 'q-shared', name: 'Q Shared', tier: 'free' },
  { id: 'q-schema', name: 'Q Schema', tier: 'pro' },
  { id: 'q-db', name: 'Q Db', tier: 'enterprise' },
  { id: 'loud', name: 'Loud', tier: 'loud' },
  // Floods too, in a tier without throttleWhenNoisy.
  { id: 'brash', name: 'Brash', tier: 'free' },
];

function sign(claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
}

const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

function assertError(res: request.Response, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'statusCode'], res.text);
  assert.doesNotMatch(res.text, /\n\s+at /, 'a stack trace leaked');
}

/** What the suite sent each tenant, from the answers it got. */
interface Sent {
  requests: number;
  errors: number;
  rowsWritten: number;
}

/** Where a tenant's users table is, per model, for an owner connection. */
function usersTable(t: TestApp, tenantId: string): { database: string; table: string } {
  if (tenantId.endsWith('-db')) return { database: `${t.databaseStem}${tenantId.replace(/-/g, '_')}`, table: 'public.users' };
  if (tenantId.endsWith('-schema')) return { database: t.controlDatabase, table: `"tenant_${tenantId.replace(/-/g, '_')}".users` };
  return { database: t.controlDatabase, table: 'tenancy_shared.users' };
}

describe('usage ledger, cost and noisy neighbours', () => {
  let t: TestApp;
  let admin: string;
  const logs: string[] = [];
  const sent: Record<string, Sent> = {};

  const count = (tenantId: string, res: request.Response, wrote = 0) => {
    const s = (sent[tenantId] ??= { requests: 0, errors: 0, rowsWritten: 0 });
    s.requests++;
    if (res.status >= 500) s.errors++;
    if (res.status < 300) s.rowsWritten += wrote;
    return res;
  };
  const get = (path: string) => request(t.http).get(path).set('Authorization', `Bearer ${admin}`);
  /** Sends `tenantId` `batches` × 10 GETs, 10 at a time; how many were served (200). */
  const flood = async (tenantId: string, batches: number) => {
    let served = 0;
    for (let batch = 0; batch < batches; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => request(t.http).get('/users').set(as(tenantId))));
      served += answers.filter((r) => r.status === 200).length;
    }
    return served;
  };
  /** The log line that said `tenantId` turned noisy. */
  const noisyLine = (tenantId: string) =>
    logs
      .flatMap((l) => l.split('\n').filter(Boolean))
      .map((l) => JSON.parse(l))
      .find((l) => l.tenant === tenantId && /noisy neighbour/.test(l.msg));

  beforeAll(async () => {
    t = await startTestApp({
      tenants: TENANTS,
      tiers: TIERS,
      prices: PRICES,
      env: { JWT_SECRET: SECRET, METRICS_TOKEN },
      logDestination: { write: (line: string) => logs.push(line) },
    });
    admin = await sign({ sub: 'operator', role: 'super_admin' });
    // Known traffic for each counted tenant: writes (a row each), reads (none), a 404, a delete,
    // an update, and one update that waits for a row an owner connection holds locked: the tier's
    // lock_timeout (300 ms) makes it a 503, an error.
    for (const [i, id] of COUNTED.entries()) {
      const ids: string[] = [];
      for (let n = 0; n < 4 + i; n++) {
        const res = count(
          id,
          await request(t.http)
            .post('/users')
            .set(as(id))
            .send({ email: `u${n}@${id}.test`, name: `U ${n}` }),
          1,
        );
        assert.equal(res.status, 201, res.text);
        ids.push(res.body.id);
      }
      for (let n = 0; n < 3 + 2 * i; n++) assert.equal(count(id, await request(t.http).get('/users').set(as(id))).status, 200);
      assert.equal(count(id, await request(t.http).get(`/users/${randomUUID()}`).set(as(id))).status, 404);
      assert.equal(count(id, await request(t.http).patch(`/users/${ids[0]}`).set(as(id)).send({ name: 'Renamed' }), 1).status, 200);
      assert.equal(count(id, await request(t.http).delete(`/users/${ids[1]}`).set(as(id)), 1).status, 204);
      const { database, table } = usersTable(t, id);
      await withOwnerClient(database, async (c) => {
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM ${table} WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id, ids[2]]);
        const res = count(id, await request(t.http).patch(`/users/${ids[2]}`).set(as(id)).send({ name: 'Blocked' }), 1);
        await c.query('ROLLBACK');
        assertError(res, 503);
      });
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  it('the ledger in the control database holds exactly the requests, errors and rows written per tenant, in all three models', async () => {
    await t.app.get(UsageLedger).flush();
    const rows = await withOwnerClient(
      t.controlDatabase,
      async (c) =>
        (
          await c.query(
            `SELECT tenant_id, sum(requests)::int AS requests, sum(errors)::int AS errors, sum(rows_written)::int AS rows,
                  sum(database_ms) AS ms FROM tenancy.usage_minutes WHERE tenant_id = ANY($1) GROUP BY tenant_id`,
            [COUNTED],
          )
        ).rows,
    );
    assert.equal(rows.length, COUNTED.length);
    for (const r of rows) {
      const s = sent[r.tenant_id];
      assert.deepEqual({ requests: r.requests, errors: r.errors, rowsWritten: r.rows }, s, r.tenant_id);
      assert.ok(r.ms > 0, `${r.tenant_id}: database time recorded`);
    }
  });

  it('GET /admin/usage?period=day gives every tenant with the same totals, its storage and the cost from the prices', async () => {
    const res = await get('/admin/usage?period=day');
    assert.equal(res.status, 200, res.text);
    const { from, to, prices, tenants } = res.body;
    assert.equal(new Date(from).getTime() % 86_400_000, 0, 'the day starts at 00:00 UTC');
    assert.ok(new Date(to).getTime() > new Date(from).getTime());
    assert.deepEqual(prices, PRICES);
    assert.deepEqual(tenants.map((x: { tenantId: string }) => x.tenantId).sort(), TENANTS.map((x) => x.id).sort());
    const hours = (new Date(to).getTime() - new Date(from).getTime()) / 3_600_000;
    for (const id of COUNTED) {
      const row = tenants.find((x: { tenantId: string }) => x.tenantId === id);
      const tenant = TENANTS.find((x) => x.id === id)!;
      assert.equal(row.tier, tenant.tier);
      assert.equal(row.status, 'active');
      assert.equal(row.model, TIERS[tenant.tier!].strategy);
      assert.deepEqual({ requests: row.requests, errors: row.errors, rowsWritten: row.rowsWritten }, sent[id]);
      assert.equal(typeof row.databaseMs, 'number');
      assert.ok(row.databaseMs > 0);
      assert.ok(typeof row.storageBytes === 'number' && row.storageBytes > 0, `${id}: storage ${row.storageBytes}`);
      const compute = tenant.tier === 'free' ? FREE_COMPUTE : PRICES.computePerMillionRequests;
      const expected = {
        compute: (row.requests / 1e6) * compute,
        database: (row.databaseMs / 3.6e6) * PRICES.databasePerHour,
        storage: (row.storageBytes / BYTES_PER_GB) * PRICES.storagePerGbMonth * (hours / HOURS_PER_MONTH),
      };
      for (const part of ['compute', 'database', 'storage'] as const) {
        assert.ok(Math.abs(row.cost[part] - expected[part]) < 2e-6, `${id} ${part}: ${row.cost[part]} vs ${expected[part]}`);
      }
      assert.ok(Math.abs(row.cost.total - (expected.compute + expected.database + expected.storage)) < 4e-6);
      assert.ok(row.cost.compute > 0 && row.cost.database > 0 && row.cost.storage > 0);
    }
  });

  it('GET /admin/tenants/:id/usage: per hour over the default 24 h, per minute over an hour, totals equal the requests sent', async () => {
    for (const id of COUNTED) {
      const day = await get(`/admin/tenants/${id}/usage`);
      assert.equal(day.status, 200, day.text);
      assert.equal(day.body.tenantId, id);
      assert.equal(day.body.step, 'hour');
      assert.ok(day.body.points.length >= 24 && day.body.points.length <= 25, `${day.body.points.length} hourly points`);
      assert.deepEqual(
        { requests: day.body.totals.requests, errors: day.body.totals.errors, rowsWritten: day.body.totals.rowsWritten },
        sent[id],
      );
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const hour = await get(`/admin/tenants/${id}/usage?from=${from}`);
      assert.equal(hour.status, 200, hour.text);
      assert.equal(hour.body.step, 'minute');
      assert.ok(hour.body.points.length >= 60 && hour.body.points.length <= 61);
      const summed = hour.body.points.reduce((n: number, p: { requests: number }) => n + p.requests, 0);
      assert.equal(summed, sent[id].requests);
      for (const p of hour.body.points) assert.match(p.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
      assert.equal(typeof hour.body.cost.total, 'number');
      assert.equal(typeof hour.body.storageBytes, 'number');
    }
  });

  it('GET /admin/usage/recent gives the busiest tenants per minute, 0 where none', async () => {
    const res = await get('/admin/usage/recent?minutes=10&top=2');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.minutes.length, 10);
    assert.equal(res.body.tenants.length, 2);
    const busiest = [...COUNTED].sort((a, b) => sent[b].requests - sent[a].requests).slice(0, 2);
    assert.deepEqual(
      res.body.tenants.map((x: { tenantId: string }) => x.tenantId),
      busiest,
    );
    for (const x of res.body.tenants) {
      assert.equal(x.requests.length, 10);
      assert.equal(
        x.requests.reduce((a: number, b: number) => a + b, 0),
        sent[x.tenantId].requests,
      );
    }
  });

  it('a flooding tenant is reported noisy, logged and counted, then held to its tier rate with 429 while the others are served', async () => {
    // The detection runs when the test says (its timer stopped), so the flood is not throttled half-way.
    const noisy = t.app.get(NoisyNeighbours);
    noisy.onModuleDestroy();
    for (const id of QUIET) for (let n = 0; n < 3; n++) assert.equal((await request(t.http).get('/users').set(as(id))).status, 200);
    // Not noisy yet: its tier's rate does not apply, 250 requests in a few seconds are all served.
    assert.equal(await flood('loud', 25), 250);
    noisy.check();
    const report = await get('/admin/tenants/noisy?seconds=300');
    assert.equal(report.status, 200, report.text);
    assert.equal(report.body.seconds, 300);
    assert.equal(report.body.factor, 10);
    assert.deepEqual(
      report.body.tenants.map((x: { tenantId: string }) => x.tenantId),
      ['loud'],
    );
    const loud = report.body.tenants[0];
    assert.equal(loud.requests, 250);
    assert.ok(loud.ratio > 10, `ratio ${loud.ratio}`);
    assert.ok(loud.requests > 10 * report.body.median.requests);
    assert.equal(loud.throttled, true);
    assert.ok(!Number.isNaN(new Date(loud.since).getTime()));
    // The log line names the tenant.
    const line = noisyLine('loud');
    assert.ok(line, 'a log line for the noisy tenant');
    assert.equal(line.model, 'shared');
    assert.equal(line.tier, 'loud');
    // Held to 5 a second: a burst gets 429s with Retry-After; the other tenants are served meanwhile.
    const burst = await Promise.all(Array.from({ length: 30 }, () => request(t.http).get('/users').set(as('loud'))));
    const refused = burst.filter((r) => r.status === 429);
    assert.ok(refused.length >= 20, `${refused.length} of 30 refused`);
    assert.ok(Number(refused[0].headers['retry-after']) >= 1);
    for (const id of QUIET) assert.equal((await request(t.http).get('/users').set(as(id))).status, 200, id);
    for (const id of COUNTED) assert.equal(count(id, await request(t.http).get('/users').set(as(id))).status, 200, id);
    // Live figures and metrics agree.
    const activity = await get('/admin/tenants/activity?seconds=60');
    assert.equal(activity.status, 200, activity.text);
    const live = activity.body.tenants.find((x: { tenantId: string }) => x.tenantId === 'loud');
    assert.equal(live.noisy, true);
    assert.equal(live.model, 'shared');
    assert.ok(live.requestsPerSecond >= 250 / 60, `${live.requestsPerSecond}/s`);
    assert.ok(live.p99Ms > 0);
    assert.equal(live.errorRate, 0);
    const quiet = activity.body.tenants.find((x: { tenantId: string }) => x.tenantId === 'q-db');
    assert.equal(quiet.noisy, false);
    const metrics = await request(t.http).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^tenancy_noisy_tenants\{model="shared",tier="loud"\} 1$/m);
    assert.match(metrics.text, /^tenancy_noisy_neighbour_events_total\{model="shared",tier="loud",throttled="true"\} 1$/m);
  });

  it('a flooding tenant of a tier without throttleWhenNoisy is reported noisy but not throttled, in the API and the log, and is not limited', async () => {
    const noisy = t.app.get(NoisyNeighbours);
    noisy.onModuleDestroy();
    assert.equal(await flood('brash', 30), 300);
    noisy.check();
    assert.equal(noisy.isNoisy('brash'), true);
    const report = await get('/admin/tenants/noisy?seconds=300');
    assert.equal(report.status, 200, report.text);
    const brash = report.body.tenants.find((x: { tenantId: string }) => x.tenantId === 'brash');
    assert.ok(brash, report.text);
    assert.ok(brash.ratio > 10, `ratio ${brash.ratio}`);
    assert.equal(brash.throttled, false);
    const line = noisyLine('brash');
    assert.ok(line, 'a log line for the noisy tenant');
    assert.equal(line.throttled, false);
    // Still served in full while noisy: nothing holds it to a rate.
    const more = await Promise.all(Array.from({ length: 30 }, () => request(t.http).get('/users').set(as('brash'))));
    assert.deepEqual(
      more.map((r) => r.status),
      more.map(() => 200),
    );
  });

  it('answers 400 to bad input, 404 to an unknown tenant, and its routes are not taken by /admin/tenants/:id', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    for (const path of [
      `/admin/usage?from=${tomorrow}`,
      `/admin/tenants/u-db/usage?from=${tomorrow}`,
      '/admin/usage?period=year',
      '/admin/usage?from=yesterday',
      '/admin/usage?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z',
      '/admin/usage?period=day&from=2026-11-01T00:00:00Z',
      '/admin/usage?to=2026-11-01T00:00:00Z',
      '/admin/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      '/admin/usage?colour=red',
      '/admin/tenants/u-db/usage?from=not-a-date',
      '/admin/tenants/u-db/usage?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z',
      '/admin/tenants/Bad_Id/usage',
      '/admin/tenants/activity?seconds=0',
      '/admin/tenants/activity?seconds=abc',
      '/admin/tenants/noisy?seconds=99999',
      '/admin/usage/recent?minutes=0',
      '/admin/usage/recent?top=1000',
    ]) {
      assertError(await get(path), 400);
    }
    assertError(await get('/admin/tenants/nobody/usage'), 404);
    const noisy = await get('/admin/tenants/noisy');
    assert.equal(noisy.status, 200, noisy.text);
    assert.equal(noisy.body.seconds, 300);
    const activity = await get('/admin/tenants/activity');
    assert.equal(activity.status, 200, activity.text);
    assert.equal(activity.body.seconds, 60);
  });

  it('caps a `to` in the future at now: usage and storage are billed only up to now', async () => {
    const from = new Date(Date.now() - 86_400_000);
    const future = new Date(Date.now() + 396 * 86_400_000).toISOString();
    const before = Date.now();
    const res = await get(`/admin/usage?from=${from.toISOString()}&to=${future}`);
    const after = Date.now();
    assert.equal(res.status, 200, res.text);
    const to = new Date(res.body.to).getTime();
    assert.ok(to >= before && to <= after, `to ${res.body.to} is now`);
    assert.equal(res.body.from, from.toISOString());
    const hours = (to - from.getTime()) / 3_600_000;
    const row = res.body.tenants.find((x: { tenantId: string }) => x.tenantId === 'u-db');
    assert.ok(row.storageBytes > 0);
    const storage = (row.storageBytes / BYTES_PER_GB) * PRICES.storagePerGbMonth * (hours / HOURS_PER_MONTH);
    assert.ok(Math.abs(row.cost.storage - storage) < 2e-6, `storage ${row.cost.storage} vs ${storage} over ${hours} h`);
    // More than 400 days asked, fewer once capped: answered.
    const long = await get(`/admin/usage?from=${from.toISOString()}&to=${new Date(Date.now() + 500 * 86_400_000).toISOString()}`);
    assert.equal(long.status, 200, long.text);
    const series = await get(`/admin/tenants/u-db/usage?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${future}`);
    assert.equal(series.status, 200, series.text);
    assert.equal(series.body.step, 'minute');
    assert.ok(new Date(series.body.to).getTime() <= Date.now());
    assert.ok(series.body.points.length >= 60 && series.body.points.length <= 61, `${series.body.points.length} points`);
  });

  it('answers 401 without a token and 403 to a tenant user, on every usage route', async () => {
    const user = await sign({ tenant_id: 'u-db', role: 'admin', sub: 'u1' });
    for (const path of [
      '/admin/usage',
      '/admin/usage/recent',
      '/admin/tenants/activity',
      '/admin/tenants/noisy',
      '/admin/tenants/u-db/usage',
    ]) {
      assertError(await request(t.http).get(path), 401);
      assertError(await request(t.http).get(path).set('Authorization', `Bearer ${user}`), 403);
    }
  });

  it('`tenancy usage` prints each tenant with its figures and cost; --tenant one; a bad period or tenant exits 1', async () => {
    await t.app.get(UsageLedger).flush();
    const env = childProcessEnv(t.serviceEnv);
    const all = await run('cli', ['usage', '--period', 'day'], env);
    assert.equal(all.code, 0, all.output);
    assertReadable(all.output);
    const api = (await get('/admin/usage?period=day')).body.tenants as { tenantId: string; requests: number; rowsWritten: number }[];
    for (const id of COUNTED) {
      const line = all.output.split('\n').find((l) => l.startsWith(`${id} `));
      assert.ok(line, `a line for ${id}:\n${all.output}`);
      const cells = line.trim().split(/\s+/);
      assert.equal(Number(cells[3]), sent[id].requests, line);
      assert.equal(Number(cells[4]), sent[id].errors, line);
      assert.equal(Number(cells[6]), api.find((x) => x.tenantId === id)!.rowsWritten, line);
    }
    assert.match(all.output, /costs in EUR/);
    assert.match(all.output, new RegExp(`^${TENANTS.length} tenants, total \\d+\\.\\d{6}$`, 'm'));
    const one = await run('cli', ['usage', '--tenant', 'u-schema'], env);
    assert.equal(one.code, 0, one.output);
    assert.match(one.output, /^u-schema /m);
    assert.doesNotMatch(one.output, /^u-db /m);
    const unknown = await run('cli', ['usage', '--tenant', 'nobody'], env);
    assert.equal(unknown.code, 1, unknown.output);
    assert.match(unknown.output, /nobody/);
    assertReadable(unknown.output);
    const badPeriod = await run('cli', ['usage', '--period', 'year'], env);
    assert.equal(badPeriod.code, 1, badPeriod.output);
    assert.match(badPeriod.output, /--period takes one of month, day/);
  });

  it('an instance that stops writes the counts it still holds: none lost', async () => {
    const before = (await get('/admin/tenants/q-db/usage')).body.totals.requests;
    const other = await startTestApp({ join: t });
    let closed = false;
    try {
      for (let n = 0; n < 4; n++) assert.equal((await request(other.http).get('/users').set(as('q-db'))).status, 200);
      // Held in memory until the next flush (every 10 s), or the stop.
      await other.close();
      closed = true;
    } finally {
      if (!closed) await other.close();
    }
    assert.equal((await get('/admin/tenants/q-db/usage')).body.totals.requests, before + 4);
  });

  it('TENANCY_USAGE=off: an instance records nothing of the requests it serves', async () => {
    const before = (await get('/admin/tenants/q-schema/usage')).body.totals.requests;
    const off = await startTestApp({ join: t, env: { TENANCY_USAGE: 'off' } });
    try {
      for (let n = 0; n < 5; n++) assert.equal((await request(off.http).get('/users').set(as('q-schema'))).status, 200);
      await off.app.get(UsageLedger).flush();
      assert.equal(off.app.get(UsageLedger).pendingRows, 0);
      assert.equal((await request(off.http).get('/admin/tenants/activity').set('Authorization', `Bearer ${admin}`)).body.tenants.length, 0);
    } finally {
      await off.close();
      delete process.env.TENANCY_USAGE;
    }
    assert.equal((await get('/admin/tenants/q-schema/usage')).body.totals.requests, before);
  });

  it('deleting a tenant deletes its usage rows, and the ledger writes no more of it', async () => {
    const rowsOf = (id: string) =>
      withOwnerClient(t.controlDatabase, async (c) =>
        Number((await c.query(`SELECT count(*) AS n FROM tenancy.usage_minutes WHERE tenant_id = $1`, [id])).rows[0].n),
      );
    const ledger = t.app.get(UsageLedger);
    await ledger.flush();
    assert.ok((await rowsOf('q-shared')) > 0);
    const gone = await request(t.http).delete('/admin/tenants/q-shared?force=true').set('Authorization', `Bearer ${admin}`);
    assert.equal(gone.status, 204, gone.text);
    assert.equal(await rowsOf('q-shared'), 0);
    // A count recorded for it after the deletion (a request that was in flight) is not written.
    t.app.get(TenantActivity).record({
      tenant: { id: 'q-shared', name: 'Q', tier: 'free', strategy: 'shared', server: 'default', status: 'active' } as TenantRecord,
      kind: 'request',
      failed: false,
      millis: 1,
      databaseMillis: 1,
    });
    await ledger.flush();
    assert.equal(await rowsOf('q-shared'), 0);
    const report = await get('/admin/usage');
    assert.ok(!report.body.tenants.some((x: { tenantId: string }) => x.tenantId === 'q-shared'));
  });

  it('a tenant deleted and provisioned again under its id starts from zero: the old counts not yet written are dropped, here and on another instance', async () => {
    const asAdmin = (r: request.Test) => r.set('Authorization', `Bearer ${admin}`);
    const provision = async () => {
      const made = await asAdmin(request(t.http).post('/admin/tenants')).send({ id: 'gadget', name: 'Gadget', tier: 'free' });
      assert.equal(made.status, 201, made.text);
    };
    await provision();
    const other = await startTestApp({ join: t });
    try {
      // Old counts, unwritten (the next flush is 10 s away), on this instance and on the other.
      for (const [app, n] of [
        [t, 3],
        [other, 2],
      ] as const) {
        for (let i = 0; i < n; i++) {
          const res = await request(app.http)
            .post('/users')
            .set(as('gadget'))
            .send({ email: `g${i}@${app === t ? 'here' : 'there'}.test`, name: `G ${i}` });
          assert.equal(res.status, 201, res.text);
        }
      }
      assert.ok(t.app.get(UsageLedger).pendingRows > 0);
      assert.ok(other.app.get(UsageLedger).pendingRows > 0);
      const gone = await asAdmin(request(t.http).delete('/admin/tenants/gadget?force=true'));
      assert.equal(gone.status, 204, gone.text);
      await provision();
      // The other instance has heard of both changes once it serves the new tenant.
      let served = 0;
      for (let i = 0; i < 50 && served === 0; i++) {
        if ((await request(other.http).get('/users').set(as('gadget'))).status === 200) served++;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(served, 1);
      assert.equal((await request(t.http).get('/users').set(as('gadget'))).status, 200);
    } finally {
      // Its stop writes what it holds: the new tenant's one request, none of the old.
      await other.close();
    }
    const usage = await get('/admin/tenants/gadget/usage');
    assert.equal(usage.status, 200, usage.text);
    assert.deepEqual({ requests: usage.body.totals.requests, rowsWritten: usage.body.totals.rowsWritten }, { requests: 2, rowsWritten: 0 });
    const noisy = await get('/admin/tenants/noisy?seconds=300');
    assert.ok(!noisy.body.tenants.some((x: { tenantId: string }) => x.tenantId === 'gadget'));
  });
});
