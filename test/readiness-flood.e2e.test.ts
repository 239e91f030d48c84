// Attack (A7): GET /health/ready is unauthenticated, outside every tenant limit, and opens two new
// PostgreSQL connections per call (owner and runtime role, SCRAM sign-in each), with no bound and no
// sharing between concurrent calls. 100 concurrent callers for 5 s against a healthy database:
// observed on the 2-core machine, about half the readiness answers were 503 ("does not answer") and
// a quiet tenant's GET /users took 11.6 s (p50) instead of 64 ms. A balancer reading readiness then
// takes every instance out. Wanted: readiness stays 200 while the database is healthy, and the
// connections it opens stay bounded, whatever the number of callers. Runs on its own server.
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { listen } from './support/raw-http';
import { startTestApp, TestApp } from './support/test-app';

const CALLERS = 100;
const FLOOD_MILLIS = 5_000;

describe('a flood of GET /health/ready (unauthenticated)', () => {
  let server: EmbeddedPostgres;
  const dir = mkdtempSync(join(tmpdir(), 'nt-ready-flood-'));
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    server = await startEmbeddedPostgres({ dir, persistent: false });
    // The flood would take the shared test server's connections from the other suites.
    process.env.TEST_DATABASE_URL = server.url;
    t = await startTestApp({ tenants: [{ id: 'acme', name: 'Acme', tier: 'enterprise' }] });
    port = await listen(t.http);
  });

  afterAll(async () => {
    await t?.close();
    await server?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps readiness 200 on a healthy database and the connections it opens bounded', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CALLERS + 10 });
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((ok) => {
        const req = http.get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
          res.resume();
          res.on('end', () => ok(res.statusCode ?? 0));
        });
        req.on('error', () => ok(0));
      });
    const monitor = new Client({ connectionString: server.url });
    await monitor.connect();
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await monitor.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'nest-tenancy:readiness'`,
        );
        peak = Math.max(peak, rows[0].n);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const codes = new Map<number, number>();
    const latencies: number[] = [];
    const end = Date.now() + FLOOD_MILLIS;
    const flooder = async () => {
      while (Date.now() < end) {
        const code = await get('/health/ready');
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    };
    const quiet = async () => {
      while (Date.now() < end) {
        const started = Date.now();
        assert.equal(await get('/users', { 'X-Tenant-ID': 'acme' }), 200);
        latencies.push(Date.now() - started);
      }
    };
    try {
      await Promise.all([...Array.from({ length: CALLERS }, flooder), quiet()]);
    } finally {
      sampling = false;
      await sampler.catch(() => undefined);
      await monitor.end();
      agent.destroy();
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `# readiness answers ${JSON.stringify(Object.fromEntries(codes))}; peak readiness connections ${peak}; quiet tenant p50 ${latencies[latencies.length >> 1]} ms over ${latencies.length} requests`,
    );
    assert.deepEqual([...codes.keys()], [200], `readiness answers under the flood: ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.ok(peak <= 4, `readiness had ${peak} connections open at once`);
  });
});
