/**
 * `npm run bench:flood`: what one flooding tenant costs the others. Prints the quiet tenants' p99
 * latency alone, then while one tenant floods the service, and the ratio (printed, not asserted:
 * machines are noisy).
 *
 * The service runs as a child process (`node dist/src/main.js`) on a throwaway embedded PostgreSQL
 * with a connection budget of `BENCH_BUDGET` (50, the library's default) per server. Three quiet database-model tenants get a steady
 * `QUIET_RATE` requests/s of `GET /users?limit=20`; the flooding tenant (tier `flood`: pool max 5,
 * concurrency `FLOOD_CONCURRENCY` 8, rate `FLOOD_TENANT_RATE` 50 requests/s) gets as much as
 * `FLOOD_CONNECTIONS` connections can send, unbounded, and then at each of `FLOOD_RATES` (300,1500)
 * requests/s. Its requests past its tier's limits get 429. `BENCH_ROUNDS` (3) rounds alternate the cases.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startKit } from './kit-service';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const QUIET_RATE = Number(process.env.QUIET_RATE ?? 150);
const FLOOD_CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS ?? 64);
const FLOOD_RATES = (process.env.FLOOD_RATES ?? '300,1500').split(',').map(Number);
const FLOOD_CONCURRENCY = Number(process.env.FLOOD_CONCURRENCY ?? 8);
const FLOOD_TENANT_RATE = Number(process.env.FLOOD_TENANT_RATE ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Connections all tenant pools may open on the server: the library's default, 50, unless set. */
const BUDGET = process.env.BENCH_BUDGET ?? '50';
const QUIET = ['quiet-1', 'quiet-2', 'quiet-3'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function quietLoad(base: string): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url: `${base}/users?limit=20`,
    connections: 6,
    overallRate: QUIET_RATE,
    duration: SECONDS,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': QUIET[n++ % QUIET.length] } }) }],
  });
}

/**
 * The flood runs in a child process of its own: in this process its event loop would delay the
 * quiet load's own timing and inflate the quiet p99 with the load generator's lag.
 */
function floodLoad(base: string, rate?: number): Promise<autocannon.Result> {
  const child = spawn(process.execPath, [__filename, '--flood', base, String(rate ?? 0)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as autocannon.Result) : reject(new Error(`the flood exited with ${code}`)),
    ),
  );
}

async function floodChild(base: string, rate: number): Promise<void> {
  const result = await autocannon({
    url: `${base}/users?limit=20`,
    connections: FLOOD_CONNECTIONS,
    duration: SECONDS,
    ...(rate ? { overallRate: rate } : {}),
    headers: { 'x-tenant-id': 'flood' },
  });
  process.stdout.write(JSON.stringify(result));
}

function describe(r: autocannon.Result): string {
  const byStatus = Object.entries(r.statusCodeStats ?? {})
    .map(([code, s]) => `${code}: ${(s as { count: number }).count}`)
    .join(', ');
  return `${r.requests.total} requests, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (${byStatus}; errors ${r.errors}, timeouts ${r.timeouts})`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-flood-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const kit = await startKit({
    dir,
    databaseUrl: pg.url,
    tenants: {
      tiers: {
        enterprise: { strategy: 'database', pool: { max: 5 } },
        flood: { strategy: 'database', pool: { max: 5 }, concurrency: FLOOD_CONCURRENCY, rate: { perSecond: FLOOD_TENANT_RATE } },
      },
      tenants: [...QUIET.map((id) => ({ id, name: id, tier: 'enterprise' })), { id: 'flood', name: 'flood', tier: 'flood' }],
    },
    env: { TENANCY_SERVER_CONNECTION_BUDGET: BUDGET },
  });
  const base = kit.base;
  try {
    for (const tenant of [...QUIET, 'flood']) {
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${base}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
          body: JSON.stringify({ email: `seed${i}@${tenant}.test`, name: `Seed ${i}` }),
        });
        if (res.status !== 201) throw new Error(`seeding ${tenant}: ${res.status}`);
      }
    }
    await quietLoad(base); // warm-up
    // Alternated rounds: the machine's own noise then weighs on every case alike.
    const alone: autocannon.Result[] = [];
    const floods: { label: string; rate?: number; runs: [autocannon.Result, autocannon.Result][] }[] = [
      { label: 'an unbounded flood', runs: [] },
      ...FLOOD_RATES.map((rate) => ({ label: `a ${rate} req/s flood`, rate, runs: [] })),
    ];
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(await quietLoad(base));
      for (const flood of floods) flood.runs.push(await Promise.all([quietLoad(base), floodLoad(base, flood.rate)]));
    }
    const p99 = (rs: autocannon.Result[]) => median(rs.map((r) => r.latency.p99));
    const quiet = p99(alone);
    const rounds = (rs: autocannon.Result[]) => rs.map((r) => `${r.latency.p99} ms`).join(', ');
    const lines = floods.map(({ label, runs }) => {
      const q = runs.map(([r]) => r);
      return (
        `  under ${label}:`.padEnd(34) + `${rounds(q)} -> ${p99(q)} ms, ${((p99(q) / Math.max(quiet, 1)) * 100).toFixed(0)}% of quiet p99`
      );
    });
    const details = floods.map(({ label, runs }) => {
      const [q, f] = runs[ROUNDS - 1];
      return `  under ${label}:\n    quiet: ${describe(q)}\n    flood: ${describe(f)}`;
    });
    console.log(
      `
connection budget ${BUDGET}; flood tier: concurrency ${FLOOD_CONCURRENCY}, rate ${FLOOD_TENANT_RATE} req/s; flood ${FLOOD_CONNECTIONS} connections; ${ROUNDS} alternated rounds of ${SECONDS} s;
quiet tenants (${QUIET.length}, ${QUIET_RATE} req/s in all); p99 per round, then the median:
  alone:`.padEnd(0) +
        ''.padEnd(28) +
        `${rounds(alone)} -> ${quiet} ms
${lines.join('\n')}
last round in detail:
  alone: ${describe(alone[ROUNDS - 1])}
${details.join('\n')}
`,
    );
  } finally {
    await kit.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv[2] === '--flood' ? floodChild(process.argv[3], Number(process.argv[4])) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
