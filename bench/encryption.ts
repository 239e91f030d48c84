/**
 * `npm run bench:encryption`: what the encrypted columns cost. Two services as `npm start` runs
 * them, on one embedded PostgreSQL, each with its own control database and the same tenants (one
 * per model, 200 users and 100 projects each): one with encryption on (TENANCY_KEKS), one with it
 * off (TENANCY_ENCRYPTION=off: the same columns hold plaintext, the blind index an unkeyed hash).
 * autocannon loads each endpoint on one, then the other, alternated over rounds, each request for
 * a random tenant; the median round is printed with the 1-minute load before and after. No
 * assertion: compare the ratio of one run.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startKit, type BenchService } from './kit-service';
import { load1, machine, waitForQuiet } from './machine';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TENANTS = [
  { id: 'bench-shared', name: 'Shared', strategy: 'shared' },
  { id: 'bench-schema', name: 'Schema', strategy: 'schema' },
  { id: 'bench-database', name: 'Database', strategy: 'database' },
];
const pick = () => TENANTS[Math.floor(Math.random() * TENANTS.length)].id;

interface Target {
  name: 'on' | 'off';
  service: BenchService;
  projects: Map<string, string[]>;
}

type Endpoint = { name: string; options: (t: Target) => Partial<autocannon.Options> };

let written = 0;
const ENDPOINTS: Endpoint[] = [
  {
    name: 'GET /users?limit=20 (20 emails decrypted)',
    options: (t) => ({
      url: `${t.service.base}/users?limit=20`,
      requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': pick() } }) }],
    }),
  },
  {
    name: 'GET /projects/:id (a description and an email)',
    options: (t) => ({
      url: t.service.base,
      requests: [
        {
          setupRequest: (req) => {
            const tenant = pick();
            const ids = t.projects.get(tenant)!;
            return {
              ...req,
              path: `/projects/${ids[Math.floor(Math.random() * ids.length)]}`,
              headers: { ...req.headers, 'x-tenant-id': tenant },
            };
          },
        },
      ],
    }),
  },
  {
    name: 'POST /users (encrypt + blind index)',
    options: (t) => ({
      url: `${t.service.base}/users`,
      method: 'POST',
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            headers: { ...req.headers, 'x-tenant-id': pick(), 'content-type': 'application/json' },
            body: JSON.stringify({ email: `w${written++}-${t.name}@bench.test`, name: 'Bench' }),
          }),
        },
      ],
    }),
  },
];

async function post(base: string, tenant: string, path: string, body: object): Promise<{ id: string }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`seeding ${tenant} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

async function seed(service: BenchService, name: 'on' | 'off'): Promise<Target> {
  const projects = new Map<string, string[]>();
  for (const { id: tenant } of TENANTS) {
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const user = await post(service.base, tenant, '/users', { email: `seed${i}@${tenant}.test`, name: `Seed ${i}` });
      if (i % 2 === 0)
        ids.push(
          (
            await post(service.base, tenant, '/projects', {
              name: `P${i}`,
              description: `about project ${i} of ${tenant}`,
              createdById: user.id,
            })
          ).id,
        );
    }
    projects.set(tenant, ids);
  }
  return { name, service, projects };
}

async function main(): Promise<void> {
  await waitForQuiet(1, Number(process.env.BENCH_QUIET_WAIT ?? 60));
  const loadBefore = load1();
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-enc-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const urlOf = (database: string) => Object.assign(new URL(pg.url), { pathname: `/${database}` }).toString();
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  for (const database of ['bench_on', 'bench_off']) await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const services: BenchService[] = [];
  try {
    const tiers = { any: { strategy: 'shared' } };
    const on = await startKit({ dir: mkdtempSync(join(dir, 'on-')), databaseUrl: urlOf('bench_on'), tenants: { tiers, tenants: TENANTS } });
    services.push(on);
    const off = await startKit({
      dir: mkdtempSync(join(dir, 'off-')),
      databaseUrl: urlOf('bench_off'),
      tenants: { tiers, tenants: TENANTS },
      env: { TENANCY_ENCRYPTION: 'off' },
    });
    services.push(off);
    const targets = [await seed(on, 'on'), await seed(off, 'off')];
    const results = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const endpoint of ENDPOINTS) {
        // Alternated, and the order flipped every round, so a noisy moment hits both.
        for (const target of round % 2 ? [...targets].reverse() : targets) {
          const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...endpoint.options(target) } as autocannon.Options);
          if (r.non2xx || r.errors) console.log(`${endpoint.name} ${target.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
          const key = `${endpoint.name}|${target.name}`;
          results.set(key, [...(results.get(key) ?? []), r.requests.average]);
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const lines = [
      `${machine()}, Node ${process.version}; ${CONNECTIONS} connections, median of ${ROUNDS} alternated rounds of ${SECONDS} s`,
      `1-minute load: ${loadBefore.toFixed(2)} before, ${load1().toFixed(2)} after`,
      '',
      '| endpoint | req/s encryption off | req/s encryption on | on / off |',
      '|---|---:|---:|---:|',
    ];
    for (const endpoint of ENDPOINTS) {
      const offRate = median(results.get(`${endpoint.name}|off`)!);
      const onRate = median(results.get(`${endpoint.name}|on`)!);
      lines.push(`| ${endpoint.name} | ${offRate.toFixed(0)} | ${onRate.toFixed(0)} | ${(onRate / offRate).toFixed(2)}× |`);
    }
    console.log(`\n${lines.join('\n')}\n`);
  } finally {
    for (const s of services) await s.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
