/**
 * `npm run bench:scoped`: the same GET (one user by id, for a random tenant) through the two ways
 * feature code reaches its tenant, and through plain request scope for scale:
 *
 * - singleton: a singleton controller and the tenant repository proxy (`@InjectRepository(User,
 *   TENANT_CONNECTION)` or `@InjectTenantRepository(User)`), bound to the unit of work at each call;
 * - durable: the tenant's DataSource as a durable request-scoped provider
 *   (`@InjectCurrentTenantDataSource()`), so the controller is one instance per tenant, which Nest
 *   finds for each request through the module's ContextIdStrategy;
 * - per-request: a non-durable request-scoped provider, so the controller and it are built for every
 *   request (what the design card keeps off the hot path).
 *
 * The app (bench/scoped-app) runs as a child process on a throwaway embedded PostgreSQL with two
 * tenants per model; autocannon loads each path in turn, ROUNDS times (interleaved, so a noisy
 * moment hits them all), and the median round of each is printed: requests per second, latency, and
 * the app process's CPU time per request (utime + stime from /proc, so autocannon's own CPU is not
 * counted). The 1-minute load average is printed before and after: figures taken under load
 * understate every path alike. No assertions: compare the ratios of one run.
 *
 * BENCH_SECONDS (default 5) per round and path, BENCH_CONNECTIONS (default 16), BENCH_ROUNDS (default 3).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { stopChild } from './kit-service';
import { type LoadFigures, loadFigures } from './load-figures';
import { load1, machine } from './machine';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATHS = ['singleton', 'durable', 'per-request'] as const;
const TENANTS = (['shared', 'schema', 'database'] as const).flatMap((strategy) =>
  [1, 2].map((i) => ({ id: `${strategy}-${i}`, strategy })),
);

type Figures = LoadFigures;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-scoped-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/bench/scoped-app/main.js'], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: pg.url, PORT: String(port), BENCH_TENANTS: JSON.stringify(TENANTS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const ids = await ready(child);
    const base = `http://127.0.0.1:${port}`;
    const tenants = Object.keys(ids);
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const loadBefore = load1();
    console.log(`${machine()}; 1-minute load before: ${loadBefore.toFixed(2)}`);
    // Warm-up: every path builds what it builds once (durable instances of every tenant) first.
    for (const path of PATHS) await measure(child.pid!, base, path, ids, tenants, pick, 2);
    const results = new Map<string, Figures[]>(PATHS.map((p) => [p, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of PATHS) results.get(path)!.push(await measure(child.pid!, base, path, ids, tenants, pick, SECONDS));
    }
    const loadAfter = load1();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const singleton = median(results.get('singleton')!.map((f) => f.rps));
    const lines = [
      `| GET /<path>/users/:id, ${TENANTS.length} tenants (2 per model), ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s | req/s | p50 ms | p99 ms | app CPU µs/req | failures | req/s vs singleton |`,
      '|---|---|---|---|---|---|---|',
    ];
    for (const path of PATHS) {
      const f = results.get(path)!;
      const rps = median(f.map((x) => x.rps));
      lines.push(
        `| ${path} | ${rps.toFixed(0)} | ${median(f.map((x) => x.p50))} | ${median(f.map((x) => x.p99))} | ${median(f.map((x) => x.cpuMicrosPerRequest)).toFixed(0)} | ${f.reduce((n, x) => n + x.failures, 0)} | ${((rps / singleton) * 100).toFixed(0)}% |`,
      );
    }
    console.log(`\n${lines.join('\n')}\n\n1-minute load: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after\n`);
  } finally {
    await stopChild(child);
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves with the seeded user ids per tenant once the app prints READY; rejects if it exits first. */
function ready(child: ReturnType<typeof spawn>): Promise<Record<string, string[]>> {
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) ok(JSON.parse(line.slice('READY '.length)));
    });
    child.once('exit', (code) => fail(new Error(`the bench app exited (${code}) before it was ready`)));
  });
}

async function measure(
  pid: number,
  base: string,
  path: string,
  ids: Record<string, string[]>,
  tenants: string[],
  pick: <T>(xs: T[]) => T,
  seconds: number,
): Promise<Figures> {
  return loadFigures(pid, {
    url: `${base}/${path}/users/x`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => {
          const tenant = pick(tenants);
          return { ...req, path: `/${path}/users/${pick(ids[tenant])}`, headers: { ...req.headers, 'x-tenant-id': tenant } };
        },
      },
    ],
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
