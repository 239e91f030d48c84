/**
 * `npm run bench:scale`: how the kit holds up as tenants grow (issue 9's scale targets). Prints
 * figures, asserts nothing.
 *
 * For each model of `BENCH_SCALE_MODELS` (`database,schema`), on a throwaway embedded PostgreSQL of
 * its own, the tenant count grows through `BENCH_SCALE_STEPS` (default `100,1000` for the database
 * model, `100,1000,10000` for the schema model; each step adds tenants to the previous). At each step:
 *
 * - the new tenants are provisioned through the admin API, `BENCH_PROVISION_PARALLEL` (4) at a time,
 *   by a kit started for that with a JWT secret (a `super_admin` token), then stopped;
 * - the kit is started as `npm start` runs it (header resolution, no JWT), with a connection budget
 *   of `BENCH_BUDGET` (100) per server, and timed to ready;
 * - cold first requests (`GET /users?limit=20`) to never-touched tenants: `BENCH_COLD_SAMPLE` (200)
 *   one at a time, then as many others 16 at a time (half the step each when it has fewer);
 * - a steady phase of autocannon (`BENCH_CONNECTIONS` 16, `BENCH_SECONDS` 5 s) over the step's tenants
 *   chosen uniformly, then a skewed one (20% of the tenants get 80% of the requests).
 *
 * After each phase: the kit's RSS and heap (after a full GC, through bench/kit-probe.ts), its live
 * tenant pools (DataSources in memory, and those with a connection open), the runtime role's server
 * connections (most seen during the phase, sampled every 200 ms: tenant pools and in all), the
 * server connections opened per request (`pg_stat_database.sessions`), the CPU time per request of
 * the kit and of PostgreSQL (exited backends included), the PostgreSQL processes' total PSS and
 * anonymous RSS, and the kit's memory growth since it was ready per live tenant pool. Before each
 * measured phase it waits (at most `BENCH_QUIET_WAIT_SECONDS`, 90) for a 1-minute load under 1,
 * and says when it was not. One table per model; written to bench/results/<date>-scale.md and .json.
 *
 * The server runs with `fsync=off` and `full_page_writes=off` unless `BENCH_PG_FSYNC=on`: 1,000
 * tenant databases are about 12 GB written, and the checkpoints' fsyncs of that on a slow disk stall
 * everything for minutes; the requests measured only read (a read-only COMMIT flushes nothing).
 */
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { inParallel } from './in-parallel';
import type { KitStats } from './kit-probe';
import { BenchService, startKit } from './kit-service';

type Model = 'database' | 'schema';

const MODELS = (process.env.BENCH_SCALE_MODELS ?? 'database,schema').split(',') as Model[];
const DEFAULT_STEPS: Record<Model, string> = { database: '100,1000', schema: '100,1000,10000' };
const BUDGET = Number(process.env.BENCH_BUDGET ?? 100);
const COLD_SAMPLE = Number(process.env.BENCH_COLD_SAMPLE ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PROVISION_PARALLEL = Number(process.env.BENCH_PROVISION_PARALLEL ?? 4);
const QUIET_WAIT_SECONDS = Number(process.env.BENCH_QUIET_WAIT_SECONDS ?? 90);
/** Extra `node` flags for the measured kit, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const KIT_NODE_ARGS = (process.env.BENCH_KIT_NODE_ARGS ?? '').split(' ').filter(Boolean);
const PG_SETTINGS: Record<string, string> = process.env.BENCH_PG_FSYNC === 'on' ? {} : { fsync: 'off', full_page_writes: 'off' };
const RUNTIME_ROLE = 'bench_scale_runtime';
const TIERS = { silo: { strategy: 'database' }, bridge: { strategy: 'schema' } };
const TIER_OF: Record<Model, string> = { database: 'silo', schema: 'bridge' };
const PATH = '/users?limit=20';

const steps = (model: Model) => (process.env.BENCH_SCALE_STEPS ?? DEFAULT_STEPS[model]).split(',').map(Number);
const tenantId = (i: number) => `t-${String(i).padStart(5, '0')}`;
const load1 = () => loadavg()[0];
const mb = (bytes: number) => bytes / (1 << 20);

/** The `q` quantile (0..1) of `xs`. */
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Waits for a 1-minute load under 1, at most QUIET_WAIT_SECONDS; says when it was not reached. */
async function waitForQuiet(what: string): Promise<number> {
  const until = Date.now() + QUIET_WAIT_SECONDS * 1000;
  while (load1() >= 1 && Date.now() < until) await sleep(2_000);
  const load = load1();
  if (load >= 1) console.log(`  (${what}: 1-minute load still ${load.toFixed(2)} after ${QUIET_WAIT_SECONDS} s; measuring anyway)`);
  return load;
}

/** The fields of `/proc/<pid>/stat` after the command (which may hold spaces): state, ppid, ... */
function procStat(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time of a process in ms (utime + stime), with its waited-for children's when `children`. */
function cpuMillis(pid: number, children = false): number {
  const f = procStat(pid).map(Number);
  // Fields 14-17 of stat(5): utime, stime, cutime, cstime, in clock ticks (100 a second).
  return (f[11] + f[12] + (children ? f[13] + f[14] : 0)) * 10;
}

/** The PostgreSQL server's processes: the postmaster first, then its children. */
function postgresProcesses(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(procStat(Number(name))[1]) === postmaster) pids.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** CPU ms of the whole server so far: its live processes', and the exited backends' (the postmaster's children times). */
function postgresCpuMillis(dataDir: string): number {
  const [postmaster, ...children] = postgresProcesses(dataDir);
  let ms = cpuMillis(postmaster, true);
  for (const pid of children) {
    try {
      ms += cpuMillis(pid);
    } catch {
      /* exited meanwhile: counted with the postmaster's children from now on, missed this once */
    }
  }
  return ms;
}

/** Memory of every process of the PostgreSQL server (the postmaster and its children), in bytes. */
function postgresMemory(dataDir: string): { processes: number; pss: number; anon: number } {
  const pids = postgresProcesses(dataDir);
  const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  let pss = 0;
  let anon = 0;
  for (const pid of pids) {
    try {
      pss += kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
      anon += kb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'RssAnon');
    } catch {
      /* gone meanwhile */
    }
  }
  return { processes: pids.length, pss, anon };
}

/** The kit's memory after a full GC and its pool registry's figures, through bench/kit-probe.ts. */
function kitStats(kit: BenchService): Promise<KitStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the kit probe did not answer within 10 s')), 10_000);
    kit.child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as KitStats);
    });
    kit.child.send('stats');
  });
}

/** Connections of the runtime role now: those of tenant pools, and all (with the home pool). */
async function runtimeConnections(admin: Client): Promise<{ tenant: number; all: number }> {
  const { rows } = await admin.query(
    `SELECT count(*) FILTER (WHERE application_name <> 'nest-tenancy')::int AS tenant, count(*)::int AS "all"
       FROM pg_stat_activity WHERE usename = $1`,
    [RUNTIME_ROLE],
  );
  return rows[0];
}

/** Server connections opened since the server started (all databases). */
async function sessionsOpened(admin: Client): Promise<number> {
  const { rows } = await admin.query(`SELECT sum(sessions)::bigint AS n FROM pg_stat_database`);
  return Number(rows[0].n);
}

/** Samples runtime connections every 200 ms until `stop`, which resolves with the most seen. */
function sampleConnections(admin: Client): { stop(): Promise<{ tenant: number; all: number }> } {
  const most = { tenant: 0, all: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = await runtimeConnections(admin);
      most.tenant = Math.max(most.tenant, now.tenant);
      most.all = Math.max(most.all, now.all);
      await sleep(200);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return most;
    },
  };
}

interface Phase {
  tenants: number;
  phase: string;
  load: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Network errors and answers other than 2xx, with the status codes seen. */
  failures: number;
  statuses: Record<string, number>;
  kitRssMb: number;
  kitHeapMb: number;
  livePools: number;
  /** Tenant pools with at least one connection open. */
  connectedPools: number;
  /** Server connections opened per request during the phase (all roles and databases). */
  sessionsPerRequest: number;
  kitCpuMsPerRequest: number;
  pgCpuMsPerRequest: number;
  tenantConnsMax: number;
  runtimeConnsMax: number;
  pgProcesses: number;
  pgPssMb: number;
  pgAnonMb: number;
  /** The kit's RSS growth since ready, per live tenant pool (database model), KB. */
  kbPerLivePool?: number;
}

interface Step {
  tenants: number;
  provisionSeconds: number;
  provisionedNow: number;
  startMillis: number;
  ready: { kitRssMb: number; kitHeapMb: number; pgPssMb: number; pgAnonMb: number };
  phases: Phase[];
}

/** GET PATH as `tenant`; its time in ms and status (0: network error). */
async function timedGet(base: string, tenant: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}${PATH}`, { headers: { 'x-tenant-id': tenant } });
    await res.arrayBuffer();
    return { ms: performance.now() - t0, status: res.status };
  } catch {
    return { ms: performance.now() - t0, status: 0 };
  }
}

function steady(base: string, pick: () => string): Promise<autocannon.Result> {
  return autocannon({
    url: `${base}${PATH}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': pick() } }) }],
  });
}

async function provision(dir: string, databaseUrl: string, model: Model, from: number, to: number): Promise<number> {
  const secret = randomBytes(24).toString('hex');
  const token = await new SignJWT({ role: 'super_admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(new TextEncoder().encode(secret));
  const kit = await startKit({
    dir,
    databaseUrl,
    tenants: { tiers: TIERS, tenants: [] },
    env: { JWT_SECRET: secret, TENANCY_RUNTIME_ROLE: RUNTIME_ROLE },
  });
  const t0 = Date.now();
  try {
    await inParallel(to - from, PROVISION_PARALLEL, async (i) => {
      const id = tenantId(from + i);
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${kit.base}/admin/tenants`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id, name: id, tier: TIER_OF[model] }),
        });
        const body = await res.text();
        if (res.status === 201) return;
        if (attempt >= 3 || res.status !== 503) throw new Error(`provisioning ${id}: ${res.status} ${body}`);
        console.log(`  provisioning ${id}: ${res.status} ${body}; again`);
      }
    });
    return (Date.now() - t0) / 1000;
  } finally {
    await kit.stop();
  }
}

async function measureStep(
  model: Model,
  n: number,
  context: { dir: string; databaseUrl: string; dataDir: string; admin: Client },
): Promise<Omit<Step, 'provisionSeconds' | 'provisionedNow'>> {
  const started = Date.now();
  const kit = await startKit({
    dir: context.dir,
    databaseUrl: context.databaseUrl,
    tenants: { tiers: TIERS, tenants: [] },
    env: { TENANCY_RUNTIME_ROLE: RUNTIME_ROLE, TENANCY_SERVER_CONNECTION_BUDGET: String(BUDGET) },
    nodeArgs: ['--expose-gc', '--require', join(__dirname, 'kit-probe.js'), ...KIT_NODE_ARGS],
    ipc: true,
  });
  const startMillis = Date.now() - started;
  try {
    const ids = shuffled(Array.from({ length: n }, (_, i) => tenantId(i)));
    const base = await kitStats(kit);
    const pgBase = postgresMemory(context.dataDir);
    const phases: Phase[] = [];
    /** Counters read at the start of a phase, for what it cost per request. */
    const begin = async () => ({
      sessions: await sessionsOpened(context.admin),
      kitCpu: cpuMillis(kit.child.pid!),
      pgCpu: postgresCpuMillis(context.dataDir),
    });
    const snapshot = async (
      phase: string,
      load: number,
      times: { requests: number; seconds: number; p50: number; p99: number; failures: number; statuses: Record<string, number> },
      conns: { tenant: number; all: number },
      start: Awaited<ReturnType<typeof begin>>,
    ) => {
      const perRequest = (n: number) => n / Math.max(1, times.requests);
      const sessionsPerRequest = perRequest((await sessionsOpened(context.admin)) - start.sessions);
      const kitCpuMsPerRequest = perRequest(cpuMillis(kit.child.pid!) - start.kitCpu);
      const pgCpuMsPerRequest = perRequest(postgresCpuMillis(context.dataDir) - start.pgCpu);
      const stats = await kitStats(kit);
      const pg = postgresMemory(context.dataDir);
      const livePools = stats.pools?.pools ?? 0;
      const row: Phase = {
        tenants: n,
        phase,
        load,
        requests: times.requests,
        reqPerSec: times.requests / times.seconds,
        p50: times.p50,
        p99: times.p99,
        failures: times.failures,
        statuses: times.statuses,
        kitRssMb: mb(stats.memory.rss),
        kitHeapMb: mb(stats.memory.heapUsed),
        livePools,
        connectedPools: stats.pools?.connected ?? 0,
        sessionsPerRequest,
        kitCpuMsPerRequest,
        pgCpuMsPerRequest,
        tenantConnsMax: conns.tenant,
        runtimeConnsMax: conns.all,
        pgProcesses: pg.processes,
        pgPssMb: mb(pg.pss),
        pgAnonMb: mb(pg.anon),
        kbPerLivePool: model === 'database' && livePools ? (stats.memory.rss - base.memory.rss) / 1024 / livePools : undefined,
      };
      phases.push(row);
      console.log(`  ${format(row)}`);
    };

    const half = Math.min(COLD_SAMPLE, Math.floor(n / 2));
    for (const [phase, width, sample] of [
      ['cold, 1 at a time', 1, ids.slice(0, half)],
      [`cold, ${CONNECTIONS} at a time`, CONNECTIONS, ids.slice(half, 2 * half)],
    ] as const) {
      const load = await waitForQuiet(phase);
      const start = await begin();
      const sampler = sampleConnections(context.admin);
      const t0 = performance.now();
      const results = await inParallel(sample.length, width, (i) => timedGet(kit.base, sample[i]));
      const seconds = (performance.now() - t0) / 1000;
      const statuses: Record<string, number> = {};
      for (const r of results) if (r.status !== 200) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const ms = results.map((r) => r.ms);
      const failures = results.filter((r) => r.status !== 200).length;
      await snapshot(
        phase,
        load,
        { requests: results.length, seconds, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), failures, statuses },
        await sampler.stop(),
        start,
      );
    }

    const hot = ids.slice(0, Math.max(1, Math.round(n / 5)));
    const rest = ids.slice(hot.length);
    const any = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    for (const [phase, pick] of [
      ['steady, uniform', () => any(ids)],
      ['steady, 20% get 80%', () => (Math.random() < 0.8 || !rest.length ? any(hot) : any(rest))],
    ] as const) {
      const load = await waitForQuiet(phase);
      const start = await begin();
      const sampler = sampleConnections(context.admin);
      const r = await steady(kit.base, pick);
      const statuses: Record<string, number> = {};
      for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) if (code !== '200' && count) statuses[code] = count;
      if (r.errors) statuses.errors = r.errors;
      if (r.timeouts) statuses.timeouts = r.timeouts;
      await snapshot(
        phase,
        load,
        {
          requests: r.requests.total,
          seconds: r.duration,
          p50: r.latency.p50,
          p99: r.latency.p99,
          failures: r.non2xx + r.errors,
          statuses,
        },
        await sampler.stop(),
        start,
      );
    }
    return {
      tenants: n,
      startMillis,
      ready: { kitRssMb: mb(base.memory.rss), kitHeapMb: mb(base.memory.heapUsed), pgPssMb: mb(pgBase.pss), pgAnonMb: mb(pgBase.anon) },
      phases,
    };
  } finally {
    await kit.stop();
  }
}

const HEADER = [
  '| tenants | phase | load | req/s | p50 ms | p99 ms | failures | new conns / req | kit CPU ms / req | PG CPU ms / req | kit RSS MB | kit heap MB | live pools (connected) | tenant conns (max) | runtime conns (max) | PG PSS MB | PG anon MB | kit KB / live pool |',
  '|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];

function format(p: Phase): string {
  const failures = p.failures
    ? `${p.failures} (${Object.entries(p.statuses)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')})`
    : '0';
  return `| ${p.tenants.toLocaleString('en')} | ${p.phase} | ${p.load.toFixed(2)} | ${p.reqPerSec.toFixed(0)} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${failures} | ${p.sessionsPerRequest.toFixed(2)} | ${p.kitCpuMsPerRequest.toFixed(2)} | ${p.pgCpuMsPerRequest.toFixed(2)} | ${p.kitRssMb.toFixed(0)} | ${p.kitHeapMb.toFixed(1)} | ${p.livePools} (${p.connectedPools}) | ${p.tenantConnsMax} | ${p.runtimeConnsMax} | ${p.pgPssMb.toFixed(0)} | ${p.pgAnonMb.toFixed(0)} | ${p.kbPerLivePool?.toFixed(0) ?? ''} |`;
}

function table(model: Model, results: Step[]): string {
  const lines = [
    `### ${model} model (budget ${BUDGET} connections per server, ${CONNECTIONS} connections × ${SECONDS} s steady phases)`,
    '',
    '| tenants | provisioned now (admin API, ' +
      PROVISION_PARALLEL +
      ' at a time) | kit start to ready | at ready: kit RSS / heap MB | PG PSS / anon MB |',
    '|---:|---|---:|---|---|',
    ...results.map(
      (s) =>
        `| ${s.tenants.toLocaleString('en')} | ${s.provisionedNow} in ${s.provisionSeconds.toFixed(1)} s | ${s.startMillis} ms | ${s.ready.kitRssMb.toFixed(0)} / ${s.ready.kitHeapMb.toFixed(1)} | ${s.ready.pgPssMb.toFixed(0)} / ${s.ready.pgAnonMb.toFixed(0)} |`,
    ),
    '',
    ...HEADER,
    ...results.flatMap((s) => s.phases.map(format)),
  ];
  return lines.join('\n');
}

async function runModel(model: Model): Promise<Step[]> {
  const dir = mkdtempSync(join(tmpdir(), `nest-tenancy-scale-${model}-`));
  const pg = await startEmbeddedPostgres({ dir, persistent: false, settings: PG_SETTINGS });
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  const results: Step[] = [];
  try {
    let have = 0;
    for (const n of steps(model)) {
      console.log(`${model}: provisioning tenants ${have} to ${n - 1}`);
      const provisionSeconds = have < n ? await provision(dir, pg.url, model, have, n) : 0;
      const provisionedNow = Math.max(0, n - have);
      have = Math.max(have, n);
      console.log(`${model}, ${n} tenants (provisioned ${provisionedNow} in ${provisionSeconds.toFixed(1)} s):`);
      const step = await measureStep(model, n, { dir, databaseUrl: pg.url, dataDir: pg.dataDir, admin });
      results.push({ ...step, provisionSeconds, provisionedNow });
    }
    return results;
  } finally {
    await admin.end();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const startLoad = load1();
  console.log(`1-minute load average at start: ${startLoad.toFixed(2)}`);
  const all: Partial<Record<Model, Step[]>> = {};
  const tables: string[] = [];
  for (const model of MODELS) {
    all[model] = await runModel(model);
    tables.push(table(model, all[model]));
  }
  const endLoad = load1();
  const date = new Date().toISOString();
  const text = [
    `## bench:scale, ${date}`,
    '',
    `1-minute load at start ${startLoad.toFixed(2)}, at end ${endLoad.toFixed(2)}; the load column is the load as each phase began.`,
    '',
    ...tables.flatMap((t) => [t, '']),
  ].join('\n');
  console.log(`\n${text}`);
  const out = join('bench', 'results');
  mkdirSync(out, { recursive: true });
  let file = join(out, `${date.slice(0, 10)}-scale`);
  for (let k = 2; existsSync(`${file}.md`); k++) file = join(out, `${date.slice(0, 10)}-scale-${k}`);
  writeFileSync(`${file}.md`, text);
  writeFileSync(`${file}.json`, JSON.stringify({ date, startLoad, endLoad, budget: BUDGET, results: all }, null, 2));
  console.log(`written to ${file}.md and .json`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
