// The database frozen (its processes stopped with SIGSTOP), restarted under concurrent writers, and
// one tenant server down: callers get 503 with Retry-After within a few seconds (never a hang or a
// 500), readiness says not ready, no acknowledged write is lost, only the tenants of a server that
// is down are refused, and everything recovers without restarting the service. Every fault is done
// to servers this suite starts itself.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/tenant-rows';

const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

/** The server's main process (first line of postmaster.pid) and every process it started. */
function serverProcesses(server: EmbeddedPostgres): number[] {
  const main = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === main;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [main, ...children];
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // a process that ended meanwhile
    }
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const result = await fn();
  return [result, Date.now() - started];
}

describe('the database frozen, restarting, or one tenant server down', () => {
  let home: EmbeddedPostgres;
  let eu: EmbeddedPostgres;
  const homeDir = mkdtempSync(join(tmpdir(), 'nt-faults-home-'));
  const euDir = mkdtempSync(join(tmpdir(), 'nt-faults-eu-'));
  let t: TestApp;
  const homeTenants = ['acme', 'widget', 'gadget'];

  beforeAll(async () => {
    home = await startEmbeddedPostgres({ dir: homeDir, persistent: true });
    eu = await startEmbeddedPostgres({ dir: euDir, persistent: true });
    // This suite's apps live on its own server: the faults below never touch the shared test server.
    process.env.TEST_DATABASE_URL = home.url;
    t = await startTestApp({
      tenants: [
        { id: 'acme', name: 'Acme', tier: 'enterprise' },
        { id: 'widget', name: 'Widget', tier: 'pro' },
        { id: 'gadget', name: 'Gadget', tier: 'free' },
        { id: 'eu-corp', name: 'EU Corp', strategy: 'database', server: 'eu' },
      ],
      env: { TENANT_DB_SERVERS: `eu=${eu.url}`, TENANCY_ACQUIRE_TIMEOUT_MILLIS: '1500', TENANCY_STATEMENT_TIMEOUT_MILLIS: '2000' },
    });
  });

  afterAll(async () => {
    await t?.close();
    await home?.stop().catch(() => undefined);
    await eu?.stop().catch(() => undefined);
    rmSync(homeDir, { recursive: true, force: true });
    rmSync(euDir, { recursive: true, force: true });
  });

  it('frozen: reads, writes and readiness answer 503 with Retry-After within a few seconds, and recover when it thaws', async () => {
    for (const id of [...homeTenants, 'eu-corp']) assert.equal((await request(t.http).get('/users').set(as(id))).status, 200);
    const pids = serverProcesses(home);
    assert.ok(pids.length > 3, `found only ${pids.length} server processes`);
    signal(pids, 'SIGSTOP');
    let thawed = false;
    try {
      const [reads, ready] = await Promise.all([
        Promise.all(
          homeTenants.map((id) =>
            timed(() =>
              request(t.http)
                .get('/users')
                .set(as(id))
                .timeout(20_000)
                .then((r) => r),
            ),
          ),
        ),
        timed(() =>
          request(t.http)
            .get('/health/ready')
            .timeout(20_000)
            .then((r) => r),
        ),
      ]);
      const [write, writeMillis] = await timed(() =>
        request(t.http)
          .post('/users')
          .set(as('gadget'))
          .send({ email: 'frozen@x.test', name: 'F' })
          .timeout(20_000)
          .then((r) => r),
      );
      for (const [res, millis] of [...reads, [write, writeMillis] as const]) {
        assert.equal(res.status, 503, res.text);
        assert.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After');
        assert.ok(millis < 8_000, `answered after ${millis} ms`);
        assert.doesNotMatch(res.text, /timeout exceeded|Query read timeout|\n\s+at /);
      }
      assert.equal(ready[0].status, 503);
      assert.ok(ready[1] < 5_000, `readiness answered after ${ready[1]} ms`);
      // The other server is not frozen: its tenant is served all along.
      assert.equal((await request(t.http).get('/users').set(as('eu-corp')).timeout(10_000)).status, 200);
      console.log(
        `# frozen database: 503 after ${reads.map(([, ms]) => ms).join(', ')} ms (reads), ${writeMillis} ms (write), readiness ${ready[1]} ms`,
      );
      signal(pids, 'SIGCONT');
      thawed = true;
      const recovered = await waitFor(
        'the service to serve again after the thaw',
        async () => {
          const codes = await Promise.all(homeTenants.map(async (id) => (await request(t.http).get('/users').set(as(id))).status));
          return codes.every((c) => c === 200) && (await request(t.http).get('/health/ready')).status === 200;
        },
        15_000,
        100,
      );
      console.log(`# served again ${recovered} ms after the thaw`);
    } finally {
      if (!thawed) signal(pids, 'SIGCONT');
    }
  });

  it('restarted under 8 concurrent writers: only 201 or 503, every 201 row is there, and writes resume without restarting the service', async () => {
    const statuses = new Map<number, number>();
    const created = new Map<string, string>();
    let missingRetryAfter = 0;
    let stop = false;
    let after = 0;
    let restarted = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const tenant = homeTenants[(w + i) % homeTenants.length];
        const res = await request(t.http)
          .post('/users')
          .set(as(tenant))
          .send({ email: `w${w}-${i}@restart.test`, name: 'W' })
          .timeout(20_000);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) {
          created.set(res.body.id, tenant);
          if (restarted) after++;
        } else if (res.status === 503 && !res.headers['retry-after']) missingRetryAfter++;
        else if (res.status === 503) await new Promise((r) => setTimeout(r, 50));
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 1_000));
    await home.stop();
    await new Promise((r) => setTimeout(r, 500));
    home = await startEmbeddedPostgres({ dir: homeDir, persistent: true, port: home.port });
    restarted = true;
    await waitFor('writes to succeed again after the restart', () => after >= 24, 20_000, 50);
    stop = true;
    await Promise.all(writers);
    const summary = Object.fromEntries(statuses);
    console.log(`# restart under 8 writers: ${JSON.stringify(summary)}`);
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s !== 201 && s !== 503),
      [],
      JSON.stringify(summary),
    );
    assert.equal(missingRetryAfter, 0);
    assert.ok((statuses.get(201) ?? 0) > after, 'writes succeeded before the restart too');
    // Every acknowledged row is stored, in its own tenant's place.
    const found = new Map<string, string>();
    const c = new Client({ connectionString: t.databaseUrl });
    await c.connect();
    try {
      for (const { tenant_id, id } of (
        await c.query(`SELECT tenant_id, id FROM tenancy_shared.users UNION ALL SELECT tenant_id, id FROM tenant_widget.users`)
      ).rows)
        found.set(id, tenant_id);
    } finally {
      await c.end();
    }
    const acme = new Client({ connectionString: new URL(`/${t.databaseStem}acme`, t.databaseUrl).toString() });
    await acme.connect();
    try {
      for (const { tenant_id, id } of (await acme.query(`SELECT tenant_id, id FROM users`)).rows) found.set(id, tenant_id);
    } finally {
      await acme.end();
    }
    const lost = [...created].filter(([id, tenant]) => found.get(id) !== tenant);
    assert.deepEqual(lost, [], `${lost.length} of ${created.size} acknowledged writes are missing`);
  });

  it('a tenant server down: only its tenants get 503, the others keep 100% success, and its tenants recover within 5 s of its return', async () => {
    assert.equal((await request(t.http).get('/users').set(as('eu-corp'))).status, 200);
    await eu.stop();
    const others: number[] = [];
    const euStatuses: number[] = [];
    for (let round = 0; round < 5; round++) {
      euStatuses.push((await request(t.http).get('/users').set(as('eu-corp')).timeout(20_000)).status);
      for (const id of homeTenants) others.push((await request(t.http).get('/users').set(as(id))).status);
    }
    assert.deepEqual([...new Set(euStatuses)], [503]);
    assert.deepEqual([...new Set(others)], [200], 'every other tenant is served while eu is down');
    eu = await startEmbeddedPostgres({ dir: euDir, persistent: true, port: eu.port });
    const back = Date.now();
    await waitFor(
      'eu-corp to be served again',
      async () => (await request(t.http).get('/users').set(as('eu-corp'))).status === 200,
      10_000,
      100,
    );
    const millis = Date.now() - back;
    console.log(`# tenant server back: its tenant served again after ${millis} ms`);
    assert.ok(millis < 5_000, `recovered after ${millis} ms`);
  });
});
