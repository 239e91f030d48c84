/**
 * `npm run bench:response-cache`: GET throughput of the reference service with the tenant response
 * cache off and on (RESPONSE_CACHE_TTL_SECONDS=0 and 30), alternated in one run, on the memory store
 * (and on Redis too when BENCH_REDIS_URL names one: a Redis you own, not a shared one).
 *
 * Two instances of the service (`node dist/src/main.js`, NODE_ENV=production) share one throwaway
 * embedded PostgreSQL and one control database, three tenants (one per model) seeded with 200 users
 * each; autocannon loads GET /users?limit=20 and GET /users/:id (a random tenant and user) on each
 * instance in turn, ROUNDS times, interleaved so a noisy moment hits both. No writes: after the
 * first request of each URL, the cache answers every GET. Prints the median round of each: req/s,
 * p50, p99, the server process's CPU per request, and the 1-minute load before and after. No
 * assertions: compare the ratios of one run.
 *
 * BENCH_SECONDS (default 5) per round and target, BENCH_CONNECTIONS (default 16), BENCH_ROUNDS (default 3).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { inParallel } from './in-parallel';
import { type BenchService, startKit } from './kit-service';
import { type LoadFigures, loadFigures } from './load-figures';
import { load1, machine } from './machine';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const USERS = 200;
const TENANTS = {
  tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database' } },
  tenants: [
    { id: 'bench-shared', name: 'Shared', tier: 'free' },
    { id: 'bench-schema', name: 'Schema', tier: 'pro' },
    { id: 'bench-database', name: 'Database', tier: 'enterprise' },
  ],
};
const ENDPOINTS = ['GET /users?limit=20', 'GET /users/:id'] as const;

type Figures = LoadFigures;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-cache-'));
  const pg = await startEmbeddedPostgres({ dir: join(dir, 'pg'), persistent: false });
  const targets: { name: string; service: BenchService }[] = [];
  try {
    const variants: [string, Record<string, string>][] = [
      ['cache off', { RESPONSE_CACHE_TTL_SECONDS: '0' }],
      ['cache on, memory', { RESPONSE_CACHE_TTL_SECONDS: '30' }],
    ];
    if (process.env.BENCH_REDIS_URL)
      variants.push(['cache on, Redis', { RESPONSE_CACHE_TTL_SECONDS: '30', REDIS_URL: process.env.BENCH_REDIS_URL }]);
    for (const [name, env] of variants) {
      const sub = join(dir, name.replace(/\W+/g, '-'));
      mkdirSync(sub);
      targets.push({ name, service: await startKit({ dir: sub, databaseUrl: pg.url, tenants: TENANTS, env }) });
    }
    const ids = await seed(targets[0].service);
    const tenants = Object.keys(ids);
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const before = load1();
    console.log(`${machine()}; 1-minute load before: ${before.toFixed(2)}`);
    const results = new Map<string, Figures[]>();
    for (let round = -1; round < ROUNDS; round++) {
      for (const endpoint of ENDPOINTS) {
        for (const { name, service } of targets) {
          // Round -1 warms every target up (JIT, pools, the cache's first misses); it is not counted.
          const figures = await measure(service, endpoint, ids, tenants, pick, round < 0 ? 2 : SECONDS);
          if (round >= 0) results.set(`${endpoint}|${name}`, [...(results.get(`${endpoint}|${name}`) ?? []), figures]);
        }
      }
    }
    const after = load1();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const lines = [
      `| endpoint (3 tenants, one per model; ${CONNECTIONS} connections; median of ${ROUNDS} × ${SECONDS} s) | target | req/s | p50 ms | p99 ms | server CPU µs/req | failures | req/s vs off |`,
      '|---|---|---:|---:|---:|---:|---:|---:|',
    ];
    for (const endpoint of ENDPOINTS) {
      const off = median(results.get(`${endpoint}|cache off`)!.map((f) => f.rps));
      for (const { name } of targets) {
        const f = results.get(`${endpoint}|${name}`)!;
        const rps = median(f.map((x) => x.rps));
        lines.push(
          `| ${endpoint} | ${name} | ${rps.toFixed(0)} | ${median(f.map((x) => x.p50))} | ${median(f.map((x) => x.p99))} | ${median(f.map((x) => x.cpuMicrosPerRequest)).toFixed(0)} | ${f.reduce((n, x) => n + x.failures, 0)} | ${(rps / off).toFixed(2)}× |`,
        );
      }
    }
    console.log(`\n${lines.join('\n')}\n\n1-minute load: ${before.toFixed(2)} before, ${after.toFixed(2)} after\n`);
  } finally {
    for (const { service } of targets) await service.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** USERS users per tenant through POST /users; their ids by tenant. */
async function seed(service: BenchService): Promise<Record<string, string[]>> {
  const ids: Record<string, string[]> = {};
  for (const { id } of TENANTS.tenants) {
    ids[id] = await inParallel(USERS, 8, async (i) => {
      const res = await fetch(`${service.base}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant-id': id },
        body: JSON.stringify({ email: `u${i}@${id}.test`, name: `User ${i}` }),
      });
      if (res.status !== 201) throw new Error(`seeding ${id}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    });
  }
  return ids;
}

async function measure(
  service: BenchService,
  endpoint: (typeof ENDPOINTS)[number],
  ids: Record<string, string[]>,
  tenants: string[],
  pick: <T>(xs: T[]) => T,
  seconds: number,
): Promise<Figures> {
  const pid = service.child.pid!;
  return loadFigures(pid, {
    url: `${service.base}/users`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => {
          const tenant = pick(tenants);
          const path = endpoint === 'GET /users/:id' ? `/users/${pick(ids[tenant])}` : '/users?limit=20';
          return { ...req, path, headers: { ...req.headers, 'x-tenant-id': tenant } };
        },
      },
    ],
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
