/**
 * `npm run bench:overhead`: measures the service under each isolation model and prints figures (no
 * assertions: machines are noisy, so compare the ratios of one run).
 *
 * 1. HTTP: the service runs as a child process (`node dist/src/main.js`) on a throwaway embedded
 *    PostgreSQL with 3 tenants per model and 200 users each; autocannon drives reads and writes per
 *    model, each request for a random tenant of that model, against /health as the no-database baseline.
 * 2. Unit of work: sequential `TenancyService.run` + one query per model, against the same query on
 *    a bare runtime-role pg pool: the cost of the tenancy layer (BEGIN + set_config + COMMIT).
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startKit } from './kit-service';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const MODELS = ['shared', 'schema', 'database'] as const;
const tenantsOf = (model: string) => [1, 2, 3].map((i) => `${model}-${i}`);

function load(title: string, url: string, opts: Partial<autocannon.Options>): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: SECONDS, title, ...opts });
}

function row(name: string, r: autocannon.Result, base?: autocannon.Result): string {
  const ratio = base ? `${((r.requests.average / base.requests.average) * 100).toFixed(0)}%` : '';
  return `| ${name.padEnd(26)} | ${r.requests.average.toFixed(0).padStart(7)} | ${String(r.latency.p50).padStart(5)} | ${String(r.latency.p99).padStart(5)} | ${String(r.non2xx + r.errors).padStart(6)} | ${ratio.padStart(9)} |`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const started = Date.now();
  const kit = await startKit({
    dir,
    databaseUrl: pg.url,
    tenants: {
      tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database', pool: { max: 5 } } },
      tenants: MODELS.flatMap((m) =>
        tenantsOf(m).map((id) => ({ id, name: id, tier: { shared: 'free', schema: 'pro', database: 'enterprise' }[m] })),
      ),
    },
    env: { TENANCY_POOL_MAX: '10' },
  });
  const { base, configFile } = kit;
  try {
    console.log(`service ready in ${Date.now() - started} ms (embedded PostgreSQL, 9 tenants: 3 per model)`);
    for (const model of MODELS) {
      for (const tenant of tenantsOf(model)) {
        for (let i = 0; i < 200; i++) {
          const res = await fetch(`${base}/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
            body: JSON.stringify({ email: `seed${i}@${tenant}.test`, name: `Seed ${i}` }),
          });
          if (res.status !== 201) throw new Error(`seeding ${tenant}: ${res.status}`);
        }
      }
    }
    const health = await load('health', `${base}/health`, {});
    const lines = [
      `| scenario (${CONNECTIONS} connections, ${SECONDS} s) | req/s   | p50ms | p99ms | errors | vs health |`,
      '|----------------------------|---------|-------|-------|--------|-----------|',
      row('GET /health (no database)', health),
    ];
    for (const model of MODELS) {
      const tenants = tenantsOf(model);
      const pick = () => tenants[Math.floor(Math.random() * tenants.length)];
      const reads = await load(`${model} reads`, `${base}/users?limit=20`, {
        requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': pick() } }) }],
      });
      lines.push(row(`GET /users?limit=20 ${model}`, reads, health));
      let n = 0;
      const writes = await load(`${model} writes`, `${base}/users`, {
        method: 'POST',
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              headers: { ...req.headers, 'x-tenant-id': pick(), 'content-type': 'application/json' },
              body: JSON.stringify({ email: `bench${n++}-${process.pid}@x.test`, name: 'Bench' }),
            }),
          },
        ],
      });
      lines.push(row(`POST /users ${model}`, writes, health));
    }
    console.log(`\n${lines.join('\n')}\n`);
  } finally {
    await kit.stop();
  }

  await unitOfWorkOverhead(pg.url, configFile);
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function unitOfWorkOverhead(databaseUrl: string, configFile: string): Promise<void> {
  Object.assign(process.env, { DATABASE_URL: databaseUrl, TENANCY_CONFIG: configFile });
  const { createApp } = await import('../src/app.factory.js');
  const { TenancyService, TenantDataSource } = await import('../libs/tenancy/src/index.js');
  const { HomeDataSource } = await import('../libs/tenancy/src/pools/home-data-source.js');
  const app = await createApp({ logger: false });
  await app.init();
  const tenancy = app.get(TenancyService);
  const tds = app.get(TenantDataSource);
  const home = app.get(HomeDataSource).dataSource;
  const N = 1000;
  const ROUNDS = 5;
  const variants: [string, () => Promise<unknown>][] = [
    ['bare runtime pool, no transaction', () => home.query('SELECT 1')],
    ...MODELS.map((model): [string, () => Promise<unknown>] => [
      `TenancyService.run, ${model} model`,
      () => tenancy.run(`${model}-1`, () => tds.query('SELECT 1')),
    ]),
  ];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (const [, fn] of variants) for (let i = 0; i < 200; i++) await fn();
  // Rounds interleave the variants, so a noisy moment hits them all; the median round is reported.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of variants) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await fn();
      samples.get(name)!.push(Number(process.hrtime.bigint() - t0) / 1e3 / N);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bare = median(samples.get(variants[0][0])!);
  const lines = [
    `| ${N} sequential units of work, one SELECT 1 each (median of ${ROUNDS} rounds) | µs/op | vs bare pool |`,
    '|---|---|---|',
  ];
  for (const [name] of variants) {
    const us = median(samples.get(name)!);
    lines.push(`| ${name} | ${us.toFixed(0)} | ${((us / bare) * 100).toFixed(0)}% |`);
  }
  const rss = process.memoryUsage().rss / 1024 / 1024;
  console.log(`${lines.join('\n')}\n\nbench process RSS after the runs: ${rss.toFixed(0)} MiB\n`);
  await app.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
