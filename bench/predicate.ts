/**
 * `npm run bench:predicate`: what the kit's explicit tenant_id predicate (option `tenantPredicate`,
 * see the README's "Citus") costs on plain PostgreSQL. Prints figures, asserts nothing.
 *
 * One throwaway embedded PostgreSQL, two kits (`node dist/src/main.js`) on control databases of
 * their own: one with the predicate (the default), one with TENANCY_TENANT_PREDICATE=off; each has
 * a shared and a schema tenant seeded with 1,000 users and 1,000 projects (POST /users,
 * POST /projects). After waiting for a quiet machine (1-minute load under 1, at most
 * `BENCH_QUIET_WAIT` s, default 120), autocannon drives `BENCH_CONNECTIONS` (16) connections for
 * `BENCH_SECONDS` (5) s at each of the four (kit, model) targets in turn for GET /users?limit=20 and
 * GET /projects/:id of a random seeded project, over `BENCH_ROUNDS` (3) rounds whose order rotates,
 * after a 1 s warm-up of each. The table gives the median round's req/s, p99 (ms) and server CPU per
 * request (µs) with and without the predicate, and their ratio; it is also written with the raw
 * figures to bench/results/<date>-predicate.md and .json.
 */
import autocannon from 'autocannon';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { inParallel } from './in-parallel';
import { startKit } from './kit-service';
import { cpuMicros, load1, machine, waitForQuiet } from './machine';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const QUIET_WAIT = Number(process.env.BENCH_QUIET_WAIT ?? 120);
const SEED = 1000;
const MODELS = ['shared', 'schema'] as const;
const PREDICATE = ['on', 'off'] as const;

interface Target {
  name: string;
  base: string;
  headers: Record<string, string>;
  pid: number;
  projectIds: string[];
}

interface Run {
  reqPerSec: number;
  p99: number;
  cpuMicrosPerRequest: number;
  errors: number;
}

const ENDPOINTS: { name: string; options(t: Target): Partial<autocannon.Options> }[] = [
  { name: 'GET /users?limit=20', options: (t) => ({ url: `${t.base}/users?limit=20`, headers: t.headers }) },
  {
    name: 'GET /projects/:id',
    options: (t) => ({
      url: t.base,
      headers: t.headers,
      requests: [
        { setupRequest: (req) => ({ ...req, path: `/projects/${t.projectIds[Math.floor(Math.random() * t.projectIds.length)]}` }) },
      ],
    }),
  },
];

async function post(t: Target, path: string, body: object): Promise<string> {
  const res = await fetch(`${t.base}${path}`, {
    method: 'POST',
    headers: { ...t.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`seeding ${t.name} ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function run(endpoint: (typeof ENDPOINTS)[number], t: Target, seconds: number): Promise<Run> {
  const before = cpuMicros(t.pid);
  const r = await autocannon({ connections: CONNECTIONS, duration: seconds, ...endpoint.options(t) } as autocannon.Options);
  return {
    reqPerSec: r.requests.average,
    p99: r.latency.p99,
    cpuMicrosPerRequest: r.requests.total > 0 ? (cpuMicros(t.pid) - before) / r.requests.total : NaN,
    errors: r.non2xx + r.errors,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const date = new Date();
  const loadAtStart = load1();
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-predicate-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  const stops: (() => Promise<void>)[] = [];
  try {
    const targets: Target[] = [];
    for (const predicate of PREDICATE) {
      await admin.query(`CREATE DATABASE bench_predicate_${predicate}`);
      const url = new URL(pg.url);
      url.pathname = `/bench_predicate_${predicate}`;
      const kitDir = join(dir, predicate);
      mkdirSync(kitDir);
      const kit = await startKit({
        dir: kitDir,
        databaseUrl: url.href,
        tenants: {
          tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' } },
          tenants: MODELS.map((m) => ({ id: `${m}-1`, name: `${m}-1`, tier: m === 'shared' ? 'free' : 'pro' })),
        },
        env: { TENANCY_POOL_MAX: '10', TENANCY_TENANT_PREDICATE: predicate },
      });
      stops.push(kit.stop);
      for (const m of MODELS) {
        targets.push({
          name: `${m}, predicate ${predicate}`,
          base: kit.base,
          headers: { 'x-tenant-id': `${m}-1` },
          pid: kit.child.pid!,
          projectIds: [],
        });
      }
    }
    console.log(`two kits ready; seeding ${SEED} users and ${SEED} projects per target`);
    for (const t of targets) {
      const users = await inParallel(SEED, 8, (i) => post(t, '/users', { email: `seed${i}@x.test`, name: `Seed ${i}` }));
      t.projectIds = await inParallel(SEED, 8, (i) => post(t, '/projects', { name: `Project ${i}`, createdById: users[i] }));
    }
    const quiet = await waitForQuiet(1, QUIET_WAIT);
    const loadBefore = load1();
    const results = new Map<string, Run[]>();
    for (const e of ENDPOINTS) {
      for (const t of targets) await run(e, t, 1); // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + round) % targets.length];
          const key = `${e.name} | ${t.name}`;
          results.set(key, [...(results.get(key) ?? []), await run(e, t, SECONDS)]);
        }
      }
    }
    const loadAtEnd = load1();
    const lines = [
      `| endpoint | model | req/s with | req/s without | with/without | p99 ms with | p99 ms without | CPU µs/req with | CPU µs/req without | errors |`,
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const e of ENDPOINTS) {
      for (const m of MODELS) {
        const on = results.get(`${e.name} | ${m}, predicate on`)!;
        const off = results.get(`${e.name} | ${m}, predicate off`)!;
        const mid = (runs: Run[], pick: (r: Run) => number) => median(runs.map(pick));
        const errors = [...on, ...off].reduce((n, r) => n + r.errors, 0);
        lines.push(
          `| ${e.name} | ${m} | ${Math.round(mid(on, (r) => r.reqPerSec))} | ${Math.round(mid(off, (r) => r.reqPerSec))} | ` +
            `${(mid(on, (r) => r.reqPerSec) / mid(off, (r) => r.reqPerSec)).toFixed(3)} | ${mid(on, (r) => r.p99)} | ${mid(off, (r) => r.p99)} | ` +
            `${Math.round(mid(on, (r) => r.cpuMicrosPerRequest))} | ${Math.round(mid(off, (r) => r.cpuMicrosPerRequest))} | ${errors} |`,
        );
      }
    }
    const header =
      `${date.toISOString()}, ${machine()}, node ${process.version}; ${CONNECTIONS} connections, median of ${ROUNDS} alternated rounds of ${SECONDS} s.\n` +
      `1-minute load: ${loadAtStart.toFixed(2)} at start, ${loadBefore.toFixed(2)} when measuring began` +
      `${quiet ? '' : ` (NOT under 1 after ${QUIET_WAIT} s)`}, ${loadAtEnd.toFixed(2)} at end.`;
    const markdown = `${header}\n\n${lines.join('\n')}\n`;
    console.log(`\n${markdown}`);
    const stamp = date
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/${stamp}-predicate`;
    writeFileSync(`${file}.md`, markdown);
    writeFileSync(
      `${file}.json`,
      `${JSON.stringify({ date: date.toISOString(), machine: machine(), runs: Object.fromEntries(results) }, null, 2)}\n`,
    );
    console.log(`written to ${file}.md and .json`);
  } finally {
    await admin.end();
    await Promise.all(stops.map((stop) => stop()));
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
