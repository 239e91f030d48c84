// Prometheus metrics at /metrics: counts equal the requests sent, by model, tier and route; the
// database time, pools, tenants and migrations are there; per-tenant series stay bounded (top K
// tenants by load, the rest "other"); /metrics is not public (404 without a token or a port, 401
// without the token); no OpenTelemetry SDK is loaded when no OTLP endpoint is configured.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import type { TenantDefinition } from '../libs/tenancy/src';
import { MetricsServer } from '../src/observability/metrics-server';
import { TenancyMetrics } from '../src/observability/tenancy-metrics';
import { httpPlatformFromEnv } from '../src/config/app.config';
import { startTestApp, type TestApp } from './support/test-app';

/** Where a request refused before routing is counted: Fastify routes first, Express after the middleware. */
const REFUSED_ROUTE = httpPlatformFromEnv() === 'express' ? 'unmatched' : '/users';

const TOKEN = 'metrics-token-for-the-tests-0123456789';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus's text format, the samples only. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = pick(samples, name, labels);
  assert.equal(found.length, 1, `one sample ${name}${JSON.stringify(labels)}, got ${JSON.stringify(found)}`);
  return found[0].value;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

// 48 tenants of the shared model (tier free), one schema (pro), one database (enterprise): 50.
const SHARED = Array.from({ length: 48 }, (_, i) => `m-shared-${String(i).padStart(2, '0')}`);
const TENANTS: TenantDefinition[] = [
  ...SHARED.map((id) => ({ id, name: id, tier: 'free' })),
  { id: 'm-schema', name: 'm-schema', tier: 'pro' },
  { id: 'm-db', name: 'm-db', tier: 'enterprise' },
];
/** Requests per tenant: six clear leaders, then one or two each. */
const LOAD: Record<string, number> = Object.fromEntries(TENANTS.map((t, i) => [t.id, 1 + (i % 2)]));
Object.assign(LOAD, { 'm-db': 14, 'm-schema': 13, 'm-shared-07': 12, 'm-shared-21': 11, 'm-shared-33': 10, 'm-shared-40': 9 });
const K = 5;

describe('metrics with METRICS_TOKEN, 50 tenants and METRICS_TOP_TENANTS=5', () => {
  let t: TestApp;
  let samples: Sample[];

  beforeAll(async () => {
    t = await startTestApp({ tenants: TENANTS, env: { METRICS_TOKEN: TOKEN, METRICS_TOP_TENANTS: String(K) } });
    // Known traffic: each tenant's GETs (a query each), one POST for the database tenant, one
    // request for a tenant that does not exist.
    for (const [id, n] of Object.entries(LOAD)) {
      for (let i = 0; i < n; i++) assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', id)).status, 200);
    }
    assert.equal((await request(t.http).post('/users').set('X-Tenant-ID', 'm-db').send({ email: 'a@m.test', name: 'A' })).status, 201);
    assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', 'nobody-here')).status, 404);
    const res = await request(t.http).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    samples = parse(res.text);
  });
  afterAll(async () => t?.close());

  it('refuses /metrics without the token (401), and with a wrong one', async () => {
    const none = await request(t.http).get('/metrics');
    assert.equal(none.status, 401);
    assert.match(none.body.message, /Bearer/);
    assert.equal((await request(t.http).get('/metrics').set('Authorization', 'Bearer wrong-token-wrong-token')).status, 401);
    assert.equal((await request(t.http).get('/metrics').set('Authorization', TOKEN)).status, 401, 'the token only as a bearer');
  });

  it('counts every request by method, route, status, model and tier: the counts equal the requests sent', () => {
    const byTier = (tier: string) => Object.entries(LOAD).filter(([id]) => TENANTS.find((x) => x.id === id)!.tier === tier);
    const sum = (rows: [string, number][]) => rows.reduce((a, [, n]) => a + n, 0);
    const get = { method: 'GET', route: '/users', status: '200' };
    assert.equal(value(samples, 'http_requests_total', { ...get, model: 'shared', tier: 'free' }), sum(byTier('free')));
    assert.equal(value(samples, 'http_requests_total', { ...get, model: 'schema', tier: 'pro' }), LOAD['m-schema']);
    assert.equal(value(samples, 'http_requests_total', { ...get, model: 'database', tier: 'enterprise' }), LOAD['m-db']);
    assert.equal(
      value(samples, 'http_requests_total', { method: 'POST', route: '/users', status: '201', model: 'database', tier: 'enterprise' }),
      1,
    );
    assert.equal(
      value(samples, 'http_requests_total', { method: 'GET', route: REFUSED_ROUTE, status: '404', model: 'none', tier: 'none' }),
      1,
    );
    // The latency histogram saw the same requests.
    assert.equal(
      value(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/users', model: 'schema', tier: 'pro' }),
      LOAD['m-schema'],
    );
    const inf = value(samples, 'http_request_duration_seconds_bucket', {
      method: 'GET',
      route: '/users',
      model: 'database',
      tier: 'enterprise',
      le: '+Inf',
    });
    assert.equal(inf, LOAD['m-db']);
  });

  it('gives the database time of each unit of work, by model and tier', () => {
    const count = value(samples, 'tenancy_unit_of_work_database_seconds_count', { kind: 'request', model: 'database', tier: 'enterprise' });
    assert.equal(count, LOAD['m-db'] + 1);
    const seconds = value(samples, 'tenancy_unit_of_work_database_seconds_sum', { kind: 'request', model: 'database', tier: 'enterprise' });
    assert.ok(seconds > 0 && seconds < 60, `database seconds ${seconds}`);
    assert.equal(
      value(samples, 'tenancy_unit_of_work_database_seconds_count', { kind: 'request', model: 'shared', tier: 'free' }),
      Object.entries(LOAD)
        .filter(([id]) => id.startsWith('m-shared'))
        .reduce((a, [, n]) => a + n, 0),
    );
  });

  it('gives the pools per server (open, idle, leased, waiting), evictions, tenants by model and status, and migrations', () => {
    for (const state of ['open', 'idle', 'leased', 'waiting']) {
      assert.equal(pick(samples, 'tenancy_pool_connections', { pool: 'home', server: 'default', state }).length, 1, state);
      assert.equal(pick(samples, 'tenancy_pool_connections', { pool: 'tenant', server: 'default', state }).length, 1, state);
    }
    assert.ok(value(samples, 'tenancy_pool_connections', { pool: 'home', server: 'default', state: 'open' }) >= 1);
    assert.ok(value(samples, 'tenancy_pool_connections', { pool: 'tenant', server: 'default', state: 'open' }) >= 1);
    assert.equal(
      value(samples, 'tenancy_pool_connections', { pool: 'tenant', server: 'default', state: 'leased' }),
      0,
      'nothing in flight',
    );
    assert.equal(pick(samples, 'tenancy_pool_evictions_total').length, 2);
    assert.equal(value(samples, 'tenancy_tenants', { model: 'shared', status: 'active' }), 48);
    assert.equal(value(samples, 'tenancy_tenants', { model: 'schema', status: 'active' }), 1);
    assert.equal(value(samples, 'tenancy_tenants', { model: 'database', status: 'active' }), 1);
    assert.equal(value(samples, 'tenancy_migration_targets', { model: 'schema', status: 'current' }), 1);
    assert.equal(value(samples, 'tenancy_migration_targets', { model: 'database', status: 'current' }), 1);
    assert.equal(pick(samples, 'tenancy_moves').length, 0, 'no move recorded');
    assert.ok(pick(samples, 'process_cpu_seconds_total').length === 1, "Node's process metrics");
  });

  it('labels only the top 5 tenants by load; the other 45 are summed as "other" per model and tier', () => {
    const rows = pick(samples, 'tenancy_tenant_recent_requests');
    const named = rows.filter((r) => r.labels.tenant !== 'other');
    assert.deepEqual(named.map((r) => r.labels.tenant).sort(), ['m-db', 'm-schema', 'm-shared-07', 'm-shared-21', 'm-shared-33']);
    for (const r of named) assert.equal(r.value, LOAD[r.labels.tenant] + (r.labels.tenant === 'm-db' ? 1 : 0));
    const others = rows.filter((r) => r.labels.tenant === 'other');
    assert.deepEqual(
      others.map((r) => `${r.labels.model}/${r.labels.tier}`),
      ['shared/free'],
      'the rest are all shared/free',
    );
    const topIds = new Set(named.map((r) => r.labels.tenant));
    const rest = Object.entries(LOAD)
      .filter(([id]) => !topIds.has(id))
      .reduce((a, [, n]) => a + n, 0);
    assert.equal(others[0].value, rest);
    // No series anywhere names a tenant outside the top 5.
    const everyTenantLabel = new Set(samples.filter((s) => s.labels.tenant).map((s) => s.labels.tenant));
    for (const id of everyTenantLabel) assert.ok(id === 'other' || topIds.has(id), `${id} has a series of its own`);
    const perTenantSeries = samples.filter((s) => s.name.startsWith('tenancy_tenant_recent_'));
    assert.ok(perTenantSeries.length <= 3 * (K + 3), `${perTenantSeries.length} per-tenant series`);
    assert.ok(value(samples, 'tenancy_tenant_recent_database_seconds', { tenant: 'm-db' }) > 0);
  });

  it('loads no OpenTelemetry SDK without an OTLP endpoint', () => {
    const loaded = Object.keys(require.cache).filter((p) =>
      /@opentelemetry[\\/](sdk-trace|exporter|context-async-hooks|resources|core)/.test(p),
    );
    assert.deepEqual(loaded, []);
  });
});

describe('/metrics is not public by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    delete process.env.METRICS_TOKEN;
    delete process.env.METRICS_PORT;
    t = await startTestApp({ tenants: [] });
  });
  afterAll(async () => t?.close());

  it('answers 404 without METRICS_TOKEN or METRICS_PORT, as for a path the service does not have', async () => {
    const res = await request(t.http).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    assert.equal(res.status, 404);
    const unknown = await request(t.http).get('/health/no-such-path');
    assert.equal(res.body.statusCode, unknown.body.statusCode);
    assert.equal(res.body.error, unknown.body.error);
  });

  it('records no request metrics that nothing could read', async () => {
    assert.equal((await request(t.http).get('/health')).status, 200);
    const text = await t.app.get(TenancyMetrics).registry.metrics();
    assert.doesNotMatch(text, /^http_requests_total\{/m);
    assert.doesNotMatch(text, /^http_request_duration_seconds_count\{/m);
  });
});

describe('/metrics on METRICS_PORT', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    t = await startTestApp({ tenants: [], env: { METRICS_PORT: String(port), METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await t?.close();
    delete process.env.METRICS_PORT;
    delete process.env.METRICS_TOKEN;
  });

  it('serves the metrics on its own port only, with the token', async () => {
    assert.equal(t.app.get(MetricsServer).port, port);
    const onService = await request(t.http).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    assert.equal(onService.status, 404, 'not on the service port');
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^# HELP /m);
    assert.equal((await fetch(`${base}/users`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404, 'nothing else there');
  });
});
