/**
 * `npm run bench`: the kit against a plain single-tenant app and the peer package, side by side in
 * one run (issue 9's harness). Prints figures, asserts nothing: compare the ratios of one run.
 *
 * One throwaway embedded PostgreSQL serves five targets, each on its own data:
 * - plain: `bench/plain-app` (NestJS + TypeORM, same entities and endpoints, no tenancy, no
 *   per-request transaction), database bench_plain;
 * - peer: the published NestJS RLS package @avallone-io/rls (`bench/peer`, its dependencies installed
 *   by `npm ci` when missing, built here), shared tables with RLS, database bench_peer;
 * - kit shared, kit schema, kit database: the kit (`node dist/src/main.js`), one tenant per model.
 * Every child runs on the HTTP platform `HTTP_PLATFORM` names (fastify, the kit's default, or
 * express). Each target is
 * seeded with 1,000 users (POST /users) and 1,000 projects (POST /projects on the kit, SQL on the
 * others); a seeding request that is not answered 2xx ends the run with exit code 1. Then the run
 * waits for a quiet machine (1-minute load under 1, at most `BENCH_QUIET_WAIT` s, default 120,
 * said when not reached). For each endpoint (GET /users?limit=20, GET /projects/:id of a random
 * seeded project, POST /users), autocannon drives `BENCH_CONNECTIONS` (16) connections for
 * `BENCH_SECONDS` (5) s at each target in turn, over `BENCH_ROUNDS` (3) rounds; the order rotates
 * every round, after a 1 s warm-up of each. The table gives the median round's req/s, p50 and p99
 * (ms), the server process's CPU time per answered request (µs, utime + stime from /proc), the
 * error count of all rounds, and the ratios to the plain app and to the peer. It is printed and
 * written with the raw figures to bench/results/<date>-bench.md and .json. With `BENCH_PROFILE=1`,
 * a CPU profile by category of each endpoint on the plain app and the kit follows (`-profile.md`).
 *
 * The kit runs with its encrypted columns (the reference app's user email and project description)
 * as `BENCH_ENCRYPTION` says: `off` by default, so every target stores the same plaintext and the
 * ratios are the cost of tenancy; `on` gives the reference app as it ships (`npm run
 * bench:encryption` measures encryption alone).
 *
 * `BENCH_VARIANTS` adds targets: each is one more kit process on the same database with environment
 * overrides, measured on the shared model's tenant and its data, e.g.
 * `BENCH_VARIANTS='{"bare":{"LOG_LEVEL":"silent","METRICS":"off"}}'` adds "kit shared bare": the
 * cost of a feature is the ratio of the two shared rows, measured alternated in one run.
 * `BENCH_TARGETS` (comma-separated, say `plain,shared,shared bare`) measures only those targets; the
 * plain app is always measured, for the ratios.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { httpPlatformFromEnv } from '../src/config/app.config';
import { freePort, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { inParallel } from './in-parallel';
import { startKit, stopChild } from './kit-service';
import { cpuMicros, load1, machine, waitForQuiet } from './machine';
import { createPeerDatabase, preparePeer, startPeer } from './peer-service';
import { waitForHttp } from './wait-for-http';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const QUIET_WAIT = Number(process.env.BENCH_QUIET_WAIT ?? 120);
/** `BENCH_PROFILE=1`: after the table, a CPU profile of each endpoint on the plain app and the kit. */
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROBE = { nodeArgs: ['--require', './dist/bench/cpu-profile-probe.js'], ipc: true };
const PLATFORM = httpPlatformFromEnv();
/** The kit's encrypted columns (TENANCY_ENCRYPTION): off unless `BENCH_ENCRYPTION=on`. */
const ENCRYPTION = process.env.BENCH_ENCRYPTION === 'on' ? 'on' : 'off';
const SEED = 1000;
const MODELS = ['shared', 'schema', 'database'] as const;
/** Kit variants: name → environment overrides (`BENCH_VARIANTS`, a JSON object). */
const VARIANTS: Record<string, Record<string, string>> = JSON.parse(process.env.BENCH_VARIANTS || '{}');
const ALL_TARGETS = ['plain', 'peer', ...MODELS, ...Object.keys(VARIANTS).map((name) => `shared ${name}`)];
const CHOSEN = process.env.BENCH_TARGETS?.split(',').map((t) => t.trim());
const TARGETS = ALL_TARGETS.filter((t) => t === 'plain' || !CHOSEN || CHOSEN.includes(t));
/** `plain`, `peer`, a model, or `shared <variant>`. */
type Target = string;
const label = (t: Target) => (t === 'plain' || t === 'peer' ? t : `kit ${t}`);

/** Where a target answers, the headers it needs, its server process and its seeded projects. */
interface Service {
  base: string;
  headers: Record<string, string>;
  pid: number;
  projectIds: string[];
  /** The server process, when this run profiles it (`BENCH_PROFILE=1`). */
  child?: ChildProcess;
}

/** One measured run of one endpoint against one target. */
interface Run {
  round: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  cpuMicrosPerRequest: number;
}

interface Endpoint {
  name: string;
  options(service: Service, target: Target): Partial<autocannon.Options>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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
            body: JSON.stringify({ email: `bench${posted++}-${target.replace(/\W+/g, '-')}-${process.pid}@x.test`, name: 'Bench' }),
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

/**
 * 1,000 users through POST /users; 1,000 projects through POST /projects (the kit) or, for the
 * apps with no such route, SQL on `db` as the superuser (with `tenantId` in tenant_id when given).
 */
async function seed(service: Service, db?: { client: Client; tenantId?: string }): Promise<void> {
  const users = await inParallel(SEED, 8, (i) => post(service, '/users', { email: `seed${i}@x.test`, name: `Seed ${i}` }));
  if (db) {
    const tenant = db.tenantId === undefined ? { column: '', value: '' } : { column: 'tenant_id, ', value: '$3, ' };
    const { rows } = await db.client.query<{ id: string }>(
      `INSERT INTO projects (${tenant.column}name, created_by_id)
       SELECT ${tenant.value}'Project ' || i, ($1::uuid[])[i] FROM generate_series(1, $2::int) AS i RETURNING id`,
      db.tenantId === undefined ? [users, SEED] : [users, SEED, db.tenantId],
    );
    service.projectIds = rows.map((r) => r.id);
  } else {
    service.projectIds = await inParallel(SEED, 8, (i) => post(service, '/projects', { name: `Project ${i}`, createdById: users[i] }));
  }
}

/** The parts of the answers checkAnswers looks at. */
interface Answer {
  items?: unknown[];
  createdById?: string;
  createdBy?: { id?: string };
}

async function getJson(service: Service, path: string, headers = service.headers): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${service.base}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Answer };
}

/**
 * What every target must answer before it is measured (else the run ends with exit code 1): a
 * full first page of users and a project with its creator, so no target is fast by answering less.
 * The peer's other tenant must see no user: RLS applies to its role.
 */
async function checkAnswers(target: Target, service: Service): Promise<void> {
  const fail = (what: string, got: { status: number; body: unknown }) => {
    throw new Error(`${label(target)}: ${what}, got ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
  };
  const page = await getJson(service, '/users?limit=20');
  if (page.status !== 200 || page.body.items?.length !== 20) fail('GET /users?limit=20 should list 20 users', page);
  const project = await getJson(service, `/projects/${service.projectIds[0]}`);
  if (project.status !== 200 || !project.body.createdBy?.id || project.body.createdBy.id !== project.body.createdById)
    fail('GET /projects/:id should answer the project with its creator', project);
  if (target !== 'peer') return;
  const other = await getJson(service, '/users?limit=20', { 'x-tenant-id': 'peer-2' });
  if (other.status !== 200 || other.body.items?.length !== 0) fail("the peer's tenant peer-2 should see no user (RLS)", other);
}

function start(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...(PROFILE ? PROBE.nodeArgs : []), script], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: PROFILE ? ['ignore', 'ignore', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'],
  });
}

async function run(endpoint: Endpoint, service: Service, target: Target, seconds: number, round: number): Promise<Run> {
  const cpuBefore = cpuMicros(service.pid);
  const r = await autocannon({ connections: CONNECTIONS, duration: seconds, ...endpoint.options(service, target) } as autocannon.Options);
  const cpu = cpuMicros(service.pid) - cpuBefore;
  return {
    round,
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    errors: r.non2xx + r.errors,
    cpuMicrosPerRequest: r.requests.total > 0 ? cpu / r.requests.total : NaN,
  };
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '');

function table(results: Map<string, Run[]>): string {
  const lines = [
    `| endpoint | target | req/s | p50 ms | p99 ms | CPU µs/req | errors | req/s vs plain | p99 vs plain | req/s vs peer |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const e of ENDPOINTS) {
    const runs = (t: Target) => results.get(`${e.name} ${t}`)!;
    const mid = (t: Target, pick: (r: Run) => number) => median(runs(t).map(pick));
    for (const t of TARGETS) {
      const rps = mid(t, (r) => r.reqPerSec);
      const p99 = mid(t, (r) => r.p99);
      const errors = runs(t).reduce((n, r) => n + r.errors, 0);
      const cells = [
        e.name,
        label(t),
        thousands(rps),
        String(mid(t, (r) => r.p50)),
        String(p99),
        thousands(mid(t, (r) => r.cpuMicrosPerRequest)),
        errors === 0 ? '0' : `**${errors}**`,
        t === 'plain'
          ? ''
          : ratio(
              rps,
              mid('plain', (r) => r.reqPerSec),
            ),
        t === 'plain'
          ? ''
          : ratio(
              p99,
              mid('plain', (r) => r.p99),
            ),
        t === 'peer' || !TARGETS.includes('peer')
          ? ''
          : ratio(
              rps,
              mid('peer', (r) => r.reqPerSec),
            ),
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** One message from the profiling probe of `child`. */
function probeMessage<T>(child: ChildProcess, send: string): Promise<T> {
  return new Promise<T>((ok) => {
    child.once('message', (m) => ok(m as T));
    child.send(send);
  });
}

/**
 * For each endpoint, a profiled run of `SECONDS` s on the plain app and each model of the kit; a
 * table per endpoint of the process's CPU µs per answered request (from /proc, as in the main
 * table), split by the main thread's share of samples per category (cpu-profile-probe.ts), largest
 * first in the shared model, with the difference to the plain app.
 */
async function profileAll(services: Record<Target, Service>): Promise<string> {
  const targets = TARGETS.filter((t) => t !== 'peer');
  const out: string[] = [
    `CPU per answered request (µs, the process's from /proc) split by where the main thread's samples fell (V8 sampling profiler, 100 µs interval, one ${SECONDS} s run per target; profiling adds its own cost):`,
  ];
  for (const e of ENDPOINTS) {
    const perRequest = new Map<Target, Record<string, number>>();
    for (const t of targets) {
      const child = services[t].child!;
      await probeMessage(child, 'start');
      const cpuBefore = cpuMicros(services[t].pid);
      const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...e.options(services[t], t) } as autocannon.Options);
      const cpu = (cpuMicros(services[t].pid) - cpuBefore) / Math.max(1, r.requests.total);
      const samples = await probeMessage<Record<string, number>>(child, 'stop');
      const all = Object.values(samples).reduce((n, v) => n + v, 0) || 1;
      perRequest.set(t, Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, (cpu * v) / all])));
    }
    const categories = [...new Set(targets.flatMap((t) => Object.keys(perRequest.get(t)!)))];
    const at = (t: Target, c: string) => perRequest.get(t)![c] ?? 0;
    categories.sort((a, b) => at('shared', b) - at('shared', a));
    const total = (t: Target) => categories.reduce((n, c) => n + at(t, c), 0);
    out.push('', `${e.name}`, '', `| where | ${targets.map((t) => label(t)).join(' | ')} | shared − plain |`);
    out.push(`|---|${targets.map(() => '---:').join('|')}|---:|`);
    const row = (name: string, f: (t: Target) => number) =>
      `| ${name} | ${targets.map((t) => Math.round(f(t))).join(' | ')} | ${Math.round(f('shared') - f('plain'))} |`;
    for (const c of categories) if (targets.some((t) => at(t, c) >= 5)) out.push(row(c, (t) => at(t, c)));
    out.push(row('**total**', total));
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const date = new Date();
  const loadAtStart = load1();
  console.log(
    `${date.toISOString()}: ${machine()}, node ${process.version}, HTTP platform ${PLATFORM}, 1-minute load ${loadAtStart.toFixed(2)}`,
  );
  const peerVersions = preparePeer();
  console.log(`peer: ${peerVersions} (NestJS from the root)`);
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query('CREATE DATABASE bench_plain');
  const plainUrl = new URL(pg.url);
  plainUrl.pathname = '/bench_plain';
  const peerOwnerUrl = new URL(pg.url);
  peerOwnerUrl.pathname = '/bench_peer';
  const peerUrl = await createPeerDatabase(admin, pg.url);
  const platform = { HTTP_PLATFORM: PLATFORM };
  const tierOf = { shared: 'free', schema: 'pro', database: 'enterprise' };
  const started = Date.now();
  const stops: (() => Promise<void>)[] = [];
  const dbs: Client[] = [];
  try {
    const tenants = {
      tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database', pool: { max: 5 } } },
      tenants: MODELS.map((m) => ({ id: `${m}-1`, name: `${m}-1`, tier: tierOf[m] })),
    };
    const kit = await startKit({
      dir,
      databaseUrl: pg.url,
      tenants,
      env: { TENANCY_POOL_MAX: '10', TENANCY_ENCRYPTION: ENCRYPTION, ...platform },
      ...(PROFILE ? PROBE : {}),
    });
    stops.push(kit.stop);
    const variants: Record<string, Awaited<ReturnType<typeof startKit>>> = {};
    for (const [name, env] of Object.entries(VARIANTS)) {
      if (!TARGETS.includes(`shared ${name}`)) continue;
      variants[name] = await startKit({
        dir,
        databaseUrl: pg.url,
        tenants,
        env: { TENANCY_POOL_MAX: '10', TENANCY_ENCRYPTION: ENCRYPTION, ...platform, ...env },
        ...(PROFILE ? PROBE : {}),
      });
      stops.push(variants[name].stop);
    }
    const plainPort = await freePort();
    const plain = start('dist/bench/plain-app/main.js', {
      DATABASE_URL: plainUrl.href,
      PORT: String(plainPort),
      PLAIN_POOL_MAX: '10',
      ...platform,
    });
    stops.push(() => stopChild(plain));
    await waitForHttp(`http://127.0.0.1:${plainPort}/users?limit=1`, plain, 'the plain app');
    const peer = await startPeer({ databaseUrl: peerUrl, probeTenant: 'peer-1', env: { PEER_POOL_MAX: '10', ...platform } });
    stops.push(peer.stop);
    console.log(`kit, plain app and peer ready in ${Date.now() - started} ms; seeding ${SEED} users and ${SEED} projects per target`);
    const services: Record<Target, Service> = {
      plain: { base: `http://127.0.0.1:${plainPort}`, headers: {}, pid: plain.pid!, projectIds: [], child: plain },
      peer: { base: peer.base, headers: { 'x-tenant-id': 'peer-1' }, pid: peer.child.pid!, projectIds: [] },
      shared: { base: kit.base, headers: { 'x-tenant-id': 'shared-1' }, pid: kit.child.pid!, projectIds: [], child: kit.child },
      schema: { base: kit.base, headers: { 'x-tenant-id': 'schema-1' }, pid: kit.child.pid!, projectIds: [], child: kit.child },
      database: { base: kit.base, headers: { 'x-tenant-id': 'database-1' }, pid: kit.child.pid!, projectIds: [], child: kit.child },
    };
    for (const [name, v] of Object.entries(variants))
      services[`shared ${name}`] = {
        base: v.base,
        headers: { 'x-tenant-id': 'shared-1' },
        pid: v.child.pid!,
        projectIds: [],
        child: v.child,
      };
    const plainDb = new Client({ connectionString: plainUrl.href });
    const peerDb = new Client({ connectionString: peerOwnerUrl.href });
    dbs.push(plainDb, peerDb);
    await Promise.all(dbs.map((c) => c.connect()));
    await seed(services.plain, { client: plainDb });
    await seed(services.peer, { client: peerDb, tenantId: 'peer-1' });
    for (const m of MODELS) await seed(services[m]);
    // A variant serves the shared tenant's data, seeded above.
    for (const name of Object.keys(variants)) services[`shared ${name}`].projectIds = services.shared.projectIds;
    for (const t of TARGETS) await checkAnswers(t, services[t]);

    const quiet = await waitForQuiet(1, QUIET_WAIT);
    const loadBefore = load1();
    const results = new Map<string, Run[]>();
    for (const e of ENDPOINTS) {
      for (const t of TARGETS) await run(e, services[t], t, 1, -1); // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        // The order rotates so no target always runs right after the same one.
        for (let k = 0; k < TARGETS.length; k++) {
          const t = TARGETS[(k + round) % TARGETS.length];
          const key = `${e.name} ${t}`;
          results.set(key, [...(results.get(key) ?? []), await run(e, services[t], t, SECONDS, round)]);
        }
      }
    }
    const loadAtEnd = load1();
    const settings = `${CONNECTIONS} connections, median of ${ROUNDS} alternated rounds of ${SECONDS} s, ${SEED} users and projects per target; kit encryption ${ENCRYPTION}${Object.keys(VARIANTS).length ? `; kit variants ${JSON.stringify(VARIANTS)}` : ''}`;
    const header = [
      `${date.toISOString()}, ${machine()}, node ${process.version}, HTTP platform ${PLATFORM}; ${settings}.`,
      `1-minute load: ${loadAtStart.toFixed(2)} at start, ${loadBefore.toFixed(2)} when measuring began` +
        `${quiet ? '' : ` (NOT under 1 after ${QUIET_WAIT} s)`}, ${loadAtEnd.toFixed(2)} at end. Peer: ${peerVersions}.`,
    ].join('\n');
    const markdown = `${header}\n\n${table(results)}\n`;
    console.log(`\n${markdown}`);
    const stamp = date
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/${stamp}-bench`;
    writeFileSync(`${file}.md`, markdown);
    const raw = {
      date: date.toISOString(),
      machine: machine(),
      node: process.version,
      httpPlatform: PLATFORM,
      peer: peerVersions,
      settings: {
        seconds: SECONDS,
        connections: CONNECTIONS,
        rounds: ROUNDS,
        seed: SEED,
        quietWait: QUIET_WAIT,
        encryption: ENCRYPTION,
        variants: VARIANTS,
      },
      load: { start: loadAtStart, measuringBegan: loadBefore, quietReached: quiet, end: loadAtEnd },
      runs: Object.fromEntries(results),
    };
    writeFileSync(`${file}.json`, `${JSON.stringify(raw, null, 2)}\n`);
    console.log(`written to ${file}.md and .json`);
    if (PROFILE) {
      const profiles = await profileAll(services);
      console.log(`\n${profiles}`);
      writeFileSync(`${file}-profile.md`, `${header}\n\n${profiles}`);
      console.log(`written to ${file}-profile.md`);
    }
  } finally {
    await Promise.all(dbs.map((c) => c.end().catch(() => undefined)));
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
