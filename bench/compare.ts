/**
 * `npm run bench:compare`: the kit against a plain single-tenant app (issue 9's baseline), side by
 * side in one run. Prints figures, asserts nothing: compare the ratios of one run.
 *
 * One throwaway embedded PostgreSQL serves both. The plain app (`bench/plain-app`: NestJS on
 * Express + TypeORM, same entities and endpoints, no tenancy, no per-request transaction) runs on
 * its own database; the kit (`node dist/src/main.js`) serves one tenant per isolation model. Each
 * target is seeded with 1,000 users and 1,000 projects. For each endpoint (GET /users?limit=20,
 * GET /projects/:id of a random seeded project, POST /users), autocannon drives `BENCH_CONNECTIONS`
 * (16) connections for `BENCH_SECONDS` (5) s at each target in turn, over `BENCH_ROUNDS` (3)
 * rounds (the order rotates every round, after a 1 s warm-up of each). The table gives the median
 * round's req/s and p99 (ms) per target and each model's ratio to the plain app; the 1-minute load
 * average is printed at the start and the end (a loaded machine understates every figure).
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { inParallel } from './in-parallel';
import { startKit, stopChild } from './kit-service';
import { waitForHttp } from './wait-for-http';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEED = 1000;
const MODELS = ['shared', 'schema', 'database'] as const;
const TARGETS = ['plain', ...MODELS] as const;
type Target = (typeof TARGETS)[number];

/** Where a target answers, the headers it needs, and the ids of its seeded projects. */
interface Service {
  base: string;
  headers: Record<string, string>;
  projectIds: string[];
}

interface Endpoint {
  name: string;
  options(service: Service, target: Target): Partial<autocannon.Options>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load1 = () => loadavg()[0].toFixed(2);

let posted = 0;
const ENDPOINTS: Endpoint[] = [
  { name: 'GET /users?limit=20', options: (s) => ({ url: `${s.base}/users?limit=20`, headers: s.headers }) },
  {
    name: 'GET /projects/:id',
    options: (s) => ({
      url: s.base,
      headers: s.headers,
      requests: [
        { setupRequest: (req) => ({ ...req, path: `/projects/${s.projectIds[Math.floor(Math.random() * s.projectIds.length)]}` }) },
      ],
    }),
  },
  {
    name: 'POST /users',
    options: (s, target) => ({
      url: `${s.base}/users`,
      method: 'POST',
      headers: { ...s.headers, 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ email: `bench${posted++}-${target}-${process.pid}@x.test`, name: 'Bench' }),
          }),
        },
      ],
    }),
  },
];

async function post(service: Service, path: string, body: object): Promise<string> {
  const res = await fetch(`${service.base}${path}`, {
    method: 'POST',
    headers: { ...service.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201)
    throw new Error(`seeding ${service.base}${path} (${JSON.stringify(service.headers)}): ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** 1,000 users through POST /users; 1,000 projects through POST /projects (the kit) or SQL (the plain app has no such route). */
async function seed(service: Service, plainDb?: Client): Promise<void> {
  const users = await inParallel(SEED, 8, (i) => post(service, '/users', { email: `seed${i}@x.test`, name: `Seed ${i}` }));
  if (plainDb) {
    const { rows } = await plainDb.query<{ id: string }>(
      `INSERT INTO projects (name, created_by_id) SELECT 'Project ' || i, ($1::uuid[])[i] FROM generate_series(1, $2::int) AS i RETURNING id`,
      [users, SEED],
    );
    service.projectIds = rows.map((r) => r.id);
  } else {
    service.projectIds = await inParallel(SEED, 8, (i) => post(service, '/projects', { name: `Project ${i}`, createdById: users[i] }));
  }
}

function start(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [script], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function run(endpoint: Endpoint, service: Service, target: Target, seconds: number): Promise<autocannon.Result> {
  return autocannon({ connections: CONNECTIONS, duration: seconds, ...endpoint.options(service, target) } as autocannon.Options);
}

function table(results: Map<string, autocannon.Result[]>): string {
  const key = (e: Endpoint, t: Target) => `${e.name} ${t}`;
  const lines = [
    `| endpoint (${CONNECTIONS} conn., ${SECONDS} s, median of ${ROUNDS}) | target   |   req/s | p99 ms | errors | req/s vs plain | p99 vs plain |`,
    '|---------------------------------------|----------|---------|--------|--------|----------------|--------------|',
  ];
  for (const e of ENDPOINTS) {
    const rps = (t: Target) => median(results.get(key(e, t))!.map((r) => r.requests.average));
    const p99 = (t: Target) => median(results.get(key(e, t))!.map((r) => r.latency.p99));
    for (const t of TARGETS) {
      const errors = results.get(key(e, t))!.reduce((n, r) => n + r.non2xx + r.errors, 0);
      const vsRps = t === 'plain' ? '' : `${((rps(t) / rps('plain')) * 100).toFixed(0)}%`;
      const vsP99 = t === 'plain' ? '' : `${(p99(t) / Math.max(p99('plain'), 1)).toFixed(2)}x`;
      lines.push(
        `| ${e.name.padEnd(37)} | ${t.padEnd(8)} | ${rps(t).toFixed(0).padStart(7)} | ${String(p99(t)).padStart(6)} | ${String(errors).padStart(6)} | ${vsRps.padStart(14)} | ${vsP99.padStart(12)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  console.log(`1-minute load average at start: ${load1()}`);
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-compare-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query('CREATE DATABASE bench_plain');
  const plainUrl = new URL(pg.url);
  plainUrl.pathname = '/bench_plain';
  const tierOf = { shared: 'free', schema: 'pro', database: 'enterprise' };
  const started = Date.now();
  const kit = await startKit({
    dir,
    databaseUrl: pg.url,
    tenants: {
      tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database', pool: { max: 5 } } },
      tenants: MODELS.map((m) => ({ id: `${m}-1`, name: `${m}-1`, tier: tierOf[m] })),
    },
    env: { TENANCY_POOL_MAX: '10' },
  });
  const plainPort = await freePort();
  const plain = start('dist/bench/plain-app/main.js', { DATABASE_URL: plainUrl.href, PORT: String(plainPort), PLAIN_POOL_MAX: '10' });
  const plainDb = new Client({ connectionString: plainUrl.href });
  try {
    await waitForHttp(`http://127.0.0.1:${plainPort}/users?limit=1`, plain, 'the plain app');
    console.log(`kit and plain app ready in ${Date.now() - started} ms; seeding ${SEED} users and ${SEED} projects per target`);
    const services = Object.fromEntries(
      TARGETS.map((t): [Target, Service] => [
        t,
        t === 'plain'
          ? { base: `http://127.0.0.1:${plainPort}`, headers: {}, projectIds: [] }
          : { base: kit.base, headers: { 'x-tenant-id': `${t}-1` }, projectIds: [] },
      ]),
    ) as Record<Target, Service>;
    await plainDb.connect();
    for (const t of TARGETS) await seed(services[t], t === 'plain' ? plainDb : undefined);
    const results = new Map<string, autocannon.Result[]>();
    for (const e of ENDPOINTS) {
      for (const t of TARGETS) await run(e, services[t], t, 1); // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        // The order rotates so no target always runs right after the same one.
        for (let k = 0; k < TARGETS.length; k++) {
          const t = TARGETS[(k + round) % TARGETS.length];
          const key = `${e.name} ${t}`;
          results.set(key, [...(results.get(key) ?? []), await run(e, services[t], t, SECONDS)]);
        }
      }
    }
    console.log(`\n${table(results)}\n\n1-minute load average at end: ${load1()}`);
  } finally {
    await plainDb.end().catch(() => undefined);
    await admin.end();
    await Promise.all([kit.stop(), stopChild(plain)]);
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
