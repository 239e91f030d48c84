// Connections fair, bounded, never held for nothing: stalled request bodies hold no connection and
// are timed out by the HTTP server (408); the per-server budget counts connections actually open and
// is shared fairly between tenants; a tenant past its tier's concurrency gets 429 with Retry-After;
// a tenant that waits too long for a connection gets 503 with Retry-After, and only that tenant.
import assert from 'node:assert/strict';
import { connect, Socket } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { PoolRegistry, TenancyService, TenantDataSource } from '../libs/tenancy/src';
import { listen } from './support/raw-http';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

const DB_TENANTS = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const BUDGET = 6;
const REQUEST_TIMEOUT = 1_500;
// Long enough that 200 requests over a budget of 6 connections all get theirs on a loaded machine.
const ACQUIRE_TIMEOUT = 5_000;

/** Opens a socket that sends `POST /users` announcing 100 bytes of body, sends 5, then stalls. */
function stalledPost(port: number, tenant: string): Promise<{ socket: Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /users HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: ${tenant}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ema`,
      );
      resolve({ socket, answer });
    });
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    const answer = new Promise<string>((ok) => socket.on('close', () => ok(Buffer.concat(chunks).toString('latin1'))));
  });
}

/** Backends of the runtime role on the suite's tenant databases (connections actually open). */
async function tenantBackends(t: TestApp): Promise<number> {
  return withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE starts_with(datname, $1) AND usename = $2`, [
      t.databaseStem,
      t.runtimeRole,
    ]);
    return rows[0].n;
  });
}

describe('connections: fair, bounded, never held for nothing', () => {
  let t: TestApp;
  let port: number;
  let registry: PoolRegistry;

  beforeAll(async () => {
    t = await startTestApp({
      tiers: {
        free: { strategy: 'shared' },
        enterprise: { strategy: 'database', pool: { max: 3 } },
        capped: { strategy: 'database', pool: { max: 3 }, concurrency: 2 },
        // 3 requests per window of 2 s.
        metered: { strategy: 'schema', rate: { perSecond: 1.5, burst: 3 } },
      },
      tenants: [
        ...DB_TENANTS.map((id) => ({ id, name: `Tenant ${id}`, tier: 'enterprise' })),
        { id: 'c-capped', name: 'Capped', tier: 'capped' },
        { id: 'c-shared', name: 'Shared', tier: 'free' },
        { id: 'c-metered', name: 'Metered', tier: 'metered' },
      ],
      env: {
        TENANCY_SERVER_CONNECTION_BUDGET: String(BUDGET),
        TENANCY_ACQUIRE_TIMEOUT_MILLIS: String(ACQUIRE_TIMEOUT),
        HTTP_REQUEST_TIMEOUT_MILLIS: String(REQUEST_TIMEOUT),
        HTTP_HEADERS_TIMEOUT_MILLIS: '1000',
        HTTP_KEEP_ALIVE_TIMEOUT_MILLIS: '500',
      },
    });
    port = await listen(t.http);
    registry = t.app.get(PoolRegistry);
  });

  afterAll(async () => {
    await t?.close();
    for (const name of [
      'TENANCY_SERVER_CONNECTION_BUDGET',
      'TENANCY_ACQUIRE_TIMEOUT_MILLIS',
      'HTTP_REQUEST_TIMEOUT_MILLIS',
      'HTTP_HEADERS_TIMEOUT_MILLIS',
      'HTTP_KEEP_ALIVE_TIMEOUT_MILLIS',
    ]) {
      delete process.env[name];
    }
  });

  it('five stalled bodies to five database tenants hold nothing: a sixth tenant is served, the stalls get 408 and release everything', async () => {
    const stalls = await Promise.all(DB_TENANTS.slice(0, 5).map((id) => stalledPost(port, id)));
    const stalledAt = Date.now();
    await sleep(200);
    assert.equal(registry.stats().inUse, 0, 'a stalled body leases no pool');
    const sixth = await request(t.http).post('/users').set('X-Tenant-ID', 'c6').send({ email: 'six@c6.test', name: 'Six' });
    assert.equal(sixth.status, 201, JSON.stringify(sixth.body));
    assert.ok(Date.now() - stalledAt < REQUEST_TIMEOUT, 'the sixth was served while the bodies were still stalled');
    for (const s of stalls) assert.equal(s.socket.destroyed, false, 'a stalled socket was closed before its request timeout');

    // The HTTP server times the stalled bodies out: 408 with the JSON error body, socket closed.
    const answers = await Promise.all(stalls.map((s) => s.answer));
    const waited = Date.now() - stalledAt;
    assert.ok(waited >= REQUEST_TIMEOUT - 100 && waited < REQUEST_TIMEOUT + 2_500, `timed out after ${waited} ms`);
    for (const answer of answers) {
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /"statusCode":408/);
    }
    assert.deepEqual({ inUse: registry.stats().inUse, busy: registry.stats().busy.default ?? 0 }, { inUse: 0, busy: 0 });
    // Nothing of the stalled tenants was written.
    for (const id of DB_TENANTS.slice(0, 5)) {
      const list = await request(t.http).get('/users').set('X-Tenant-ID', id);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, []);
    }
  });

  it('headers that never finish get 408 after the headers timeout; an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const slow = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    slow.on('data', (d) => chunks.push(d));
    const started = Date.now();
    slow.write('GET /users HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: c1\r\n');
    await new Promise((ok) => slow.once('close', ok));
    const took = Date.now() - started;
    assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.ok(took >= 900 && took < 3_000, `headers timed out after ${took} ms`);

    // One complete request on a keep-alive connection, then silence: the server closes it.
    const idle = connect(port, '127.0.0.1');
    let answered = 0;
    idle.on('data', () => (answered = answered || Date.now()));
    idle.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((ok) => idle.once('close', ok));
    const idleFor = Date.now() - answered;
    assert.ok(answered > 0, 'the request was answered');
    assert.ok(idleFor >= 400 && idleFor < 2_500, `the idle connection was closed after ${idleFor} ms`);
  });

  it('200 concurrent GET /users over six database tenants with a budget of 6: every request served, never more than 6 connections open', async () => {
    let maxOpen = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxOpen = Math.max(maxOpen, registry.stats().open.default ?? 0);
        await sleep(5);
      }
    })();
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const id = DB_TENANTS[i % DB_TENANTS.length];
        const res = await request(t.http).get('/users').set('X-Tenant-ID', id);
        return { id, status: res.status, retryAfter: res.headers['retry-after'] };
      }),
    );
    sampling = false;
    await sampler;
    const byTenant = new Map<string, Record<number, number>>();
    for (const r of results) {
      const counts = byTenant.get(r.id) ?? {};
      counts[r.status] = (counts[r.status] ?? 0) + 1;
      byTenant.set(r.id, counts);
    }
    console.log(
      `# 200 concurrent GET /users over 6 tenants, budget ${BUDGET}: ${JSON.stringify(Object.fromEntries(byTenant))}, at most ${maxOpen} open`,
    );
    for (const id of DB_TENANTS) assert.deepEqual(byTenant.get(id), { 200: id === 'c1' || id === 'c2' ? 34 : 33 }, `tenant ${id}`);
    assert.ok(maxOpen <= BUDGET, `${maxOpen} connections open, over the budget of ${BUDGET}`);
    assert.ok((await tenantBackends(t)) <= BUDGET, 'more backends than the budget');
  });

  it('a tenant past its tier concurrency gets 429 with Retry-After while another tenant is served', async () => {
    const tenancy = t.app.get(TenancyService);
    let free!: () => void;
    const held = new Promise<void>((ok) => (free = ok));
    const holders = [tenancy.run('c-capped', () => held), tenancy.run('c-capped', () => held)];
    await sleep(50);
    const refused = await request(t.http).get('/users').set('X-Tenant-ID', 'c-capped');
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.headers['retry-after'], '1');
    assert.deepEqual(Object.keys(refused.body).sort(), ['error', 'message', 'statusCode']);
    assert.equal(refused.body.error, 'Too Many Requests');
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'c1')).status, 200);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'c-shared')).status, 200);
    // Shed before anything reads the body: a stalled POST of the busy tenant is answered at once.
    const stalled = await stalledPost(port, 'c-capped');
    const shed = await stalled.answer;
    assert.match(shed, /^HTTP\/1\.1 429 /);
    assert.match(shed, /\r\nretry-after: 1\r\n/i);
    assert.match(shed, /\r\ncache-control: private, no-store\r\n/i);
    assert.match(shed, /"statusCode":429,"error":"Too Many Requests","message":"Tenant 'c-capped' already has 2 requests in progress/);
    free();
    await Promise.all(holders);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'c-capped')).status, 200);
  });

  it("a tenant past its tier's rate gets 429 with Retry-After and RateLimit fields after its burst, others are served, and it is served again once its window has passed", async () => {
    const burst = await Promise.all([0, 1, 2].map(() => request(t.http).get('/users').set('X-Tenant-ID', 'c-metered')));
    assert.deepEqual(
      burst.map((r) => r.status),
      [200, 200, 200],
    );
    const refused = await request(t.http).post('/users').set('X-Tenant-ID', 'c-metered').send({ email: 'over@metered.test', name: 'Over' });
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    // Refused for the rest of one window of 2 s: 1 or 2 s, whatever the burst itself took.
    assert.ok(['1', '2'].includes(refused.headers['retry-after']), refused.headers['retry-after']);
    assert.equal(refused.headers['ratelimit-policy'], '"tenant";q=3;w=2');
    assert.equal(refused.headers['ratelimit'], `"tenant";r=0;t=${refused.headers['retry-after']}`);
    assert.match(refused.body.message, /more than the 1.5 requests per second its tier allows/);
    // Shed by the first middleware (the verdict is cached until Retry-After), with the same fields.
    const stalled = await stalledPost(port, 'c-metered');
    const shed = await stalled.answer;
    assert.match(shed, /^HTTP\/1\.1 429 /);
    assert.match(shed, /\r\nratelimit-policy: "tenant";q=3;w=2\r\n/i);
    assert.match(shed, /\r\nratelimit: "tenant";r=0;t=[12]\r\n/i);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'c-shared')).status, 200);
    await sleep(2_100);
    const again = await request(t.http).get('/users').set('X-Tenant-ID', 'c-metered');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.items, [], 'the refused POST wrote nothing');
  });

  it('with the budget held by two tenants, a third waits the acquire timeout and gets 503 with Retry-After; the holders and other models are served', async () => {
    const tenancy = t.app.get(TenancyService);
    const data = t.app.get(TenantDataSource);
    let free!: () => void;
    const held = new Promise<void>((ok) => (free = ok));
    let connected = 0;
    // Three transactions each for c1 and c2 (their pools' max), each holding its connection.
    const holders = ['c1', 'c1', 'c1', 'c2', 'c2', 'c2'].map((id) =>
      tenancy.run(id, async () => {
        await data.query('SELECT 1');
        connected++;
        await held;
      }),
    );
    while (connected < 6) await sleep(10);
    assert.equal(registry.stats().busy.default, BUDGET);
    const started = Date.now();
    const waited = await request(t.http).get('/users').set('X-Tenant-ID', 'c3');
    const took = Date.now() - started;
    assert.equal(waited.status, 503, JSON.stringify(waited.body));
    assert.equal(waited.headers['retry-after'], '1');
    assert.match(waited.body.message, /Retry in a moment/);
    assert.ok(took >= ACQUIRE_TIMEOUT - 50 && took < ACQUIRE_TIMEOUT + 1_500, `answered after ${took} ms`);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'c-shared')).status, 200);
    // A waiting tenant is served as soon as a connection frees up, within its timeout.
    const pending = request(t.http).get('/users').set('X-Tenant-ID', 'c4');
    await sleep(100);
    free();
    await Promise.all(holders);
    assert.equal((await pending).status, 200);
    assert.equal(registry.stats().busy.default ?? 0, 0);
  });
});
