// Once a unit of work ends (commit, rollback, client gone), no query of it ever reaches a connection.
// Clients abort at random points (0-4 ms) of one- and multi-query reads and of writes, in all three
// models, with ONE pooled connection shared by two tenants (shared+shared, schema+schema; one per
// tenant for the database model). A PostgreSQL started by this suite logs every statement; from it,
// every statement of the runtime role must run inside a transaction whose preamble set the tenant of
// the request the statement belongs to, and no row of a rolled-back unit may exist.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import { TenantNaming } from '../libs/tenancy/src/catalog/tenant-naming';
import type { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { markLog, parseLog, startStatementLogServer, type LogRecord, type StatementLogServer } from './support/statement-log';
import { listen, type RawResponse } from './support/raw-http';
import { startTestApp, TestApp } from './support/test-app';

const TENANTS = [
  { id: 'sh-one', strategy: 'shared' },
  { id: 'sh-two', strategy: 'shared' },
  { id: 'sc-one', strategy: 'schema' },
  { id: 'sc-two', strategy: 'schema' },
  { id: 'db-one', strategy: 'database' },
  { id: 'db-two', strategy: 'database' },
] as const;
const TAG = /tag:([a-z0-9-]+):(\d*)/g;

interface Transaction {
  tenant: string;
  outcome?: 'COMMIT' | 'ROLLBACK';
  /** Request numbers whose INSERT ran in it. */
  inserts: number[];
  /** Statements after BEGIN and the settings, COMMIT/ROLLBACK excluded. */
  statements: number;
}

/** Walks each session of the runtime role; returns the violations and the transactions seen. */
function audit(records: LogRecord[], role: string, ownerOf: Map<string, string>) {
  const violations: string[] = [];
  const transactions: Transaction[] = [];
  const open = new Map<string, { tx: Transaction; vxid: string; settled: boolean }>();
  let statements = 0;
  for (const r of records) {
    if (r.user !== role || r.level !== 'LOG') continue;
    const m = /^(?:statement|execute [^:]*):\s([\s\S]*)$/.exec(r.text);
    if (!m) continue;
    statements++;
    const sql = m[1].trim();
    const current = open.get(r.session);
    const where = `session ${r.session}: ${sql.slice(0, 120)} ${r.params.slice(0, 120)}`;
    // A unit opens with BEGIN and then its settings: two statements of one round trip (the extended
    // protocol, with the first query), or one simple-protocol `BEGIN; SELECT set_config(...)`.
    const tenantOf = (text: string) => /^SELECT set_config\('app\.tenant_id', '([^']*)', true\)/.exec(text)?.[1];
    if (sql === 'BEGIN' || sql.startsWith('BEGIN;')) {
      if (current) violations.push(`BEGIN inside a transaction, ${where}`);
      const tenant = sql === 'BEGIN' ? undefined : tenantOf(sql.slice('BEGIN;'.length).trim());
      if (sql !== 'BEGIN' && !tenant) violations.push(`a preamble without the tenant, ${where}`);
      const tx: Transaction = { tenant: tenant ?? '?', inserts: [], statements: 0 };
      transactions.push(tx);
      open.set(r.session, { tx, vxid: r.vxid, settled: sql !== 'BEGIN' });
      continue;
    }
    if (current && !current.settled) {
      // The statement right after BEGIN must be the settings, in the same transaction.
      current.settled = true;
      const tenant = tenantOf(sql);
      if (!tenant || r.vxid !== current.vxid) violations.push(`BEGIN not followed by the tenant settings, ${where}`);
      else current.tx.tenant = tenant;
      continue;
    }
    if (!current) {
      violations.push(`outside any transaction, ${where}`);
      continue;
    }
    if (r.vxid !== current.vxid) violations.push(`in another transaction (vxid ${r.vxid} != ${current.vxid}), ${where}`);
    if (/^(COMMIT|ROLLBACK)$/i.test(sql)) {
      current.tx.outcome = sql.toUpperCase() as 'COMMIT' | 'ROLLBACK';
      open.delete(r.session);
      continue;
    }
    current.tx.statements++;
    const all = `${sql} ${r.params}`;
    for (const [, tenant, n] of all.matchAll(TAG)) {
      if (tenant !== current.tx.tenant) violations.push(`data of '${tenant}' in a transaction of '${current.tx.tenant}', ${where}`);
      if (n && /^INSERT/i.test(sql)) current.tx.inserts.push(Number(n));
    }
    for (const [id, tenant] of ownerOf) {
      if (all.includes(id) && tenant !== current.tx.tenant)
        violations.push(`id of '${tenant}' in a transaction of '${current.tx.tenant}', ${where}`);
    }
  }
  for (const [session, { tx }] of open) violations.push(`session ${session} left a transaction of '${tx.tenant}' open`);
  return { violations, transactions, statements };
}

/** Sends one request and destroys the socket after `abortAfterMs` (undefined: waits for the answer). */
function sendAndMaybeAbort(port: number, head: string, body: string, abortAfterMs?: number): Promise<RawResponse | undefined> {
  const bytes = Buffer.from(
    `${head}\r\nHost: localhost\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`,
  );
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (abortAfterMs !== undefined) setTimeout(() => socket.destroy(), abortAfterMs);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const data = Buffer.concat(chunks);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'))?.[1]);
      const split = data.indexOf('\r\n\r\n');
      if (!status || split === -1) return resolve(undefined);
      const text = data.subarray(split + 4).toString('utf8');
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      resolve({ status, headers: {}, text, body });
    });
  });
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

describe('no query of an ended unit of work reaches a connection', () => {
  let logged: StatementLogServer;
  let server: EmbeddedPostgres;
  let t: TestApp;
  const savedUrl = process.env.TEST_DATABASE_URL;

  beforeAll(async () => {
    logged = await startStatementLogServer('nt-uow-end');
    server = logged.server;
    process.env.TEST_DATABASE_URL = server.url;
    t = await startTestApp({
      tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database', pool: { max: 1 } } },
      tenants: TENANTS.map((x) => ({ id: x.id, name: x.id, tier: { shared: 'free', schema: 'pro', database: 'enterprise' }[x.strategy] })),
      env: { TENANCY_POOL_MAX: '1' },
    });
  });

  afterAll(async () => {
    await t?.close();
    await logged?.stop();
    process.env.TEST_DATABASE_URL = savedUrl;
  });

  it("every statement of the runtime role runs in its own request's transaction; no rolled-back row exists", async () => {
    const port = await listen(t.http);
    const ownerOf = new Map<string, string>();
    const users = new Map<string, string[]>();
    const projects = new Map<string, string[]>();
    const post = async (tenant: string, path: string, body: object) => {
      const res = await sendAndMaybeAbort(port, `POST ${path} HTTP/1.1\r\nX-Tenant-ID: ${tenant}`, JSON.stringify(body));
      assert.equal(res?.status, 201, res?.text);
      ownerOf.set(res!.body.id, tenant);
      return res!.body.id as string;
    };
    for (const { id } of TENANTS) {
      const u = [
        await post(id, '/users', { email: `seed1.${id}@x.test`, name: `seed ${id}` }),
        await post(id, '/users', { email: `seed2.${id}@x.test`, name: `seed ${id}` }),
      ];
      users.set(id, u);
      projects.set(id, [
        await post(id, '/projects', { name: `seed ${id}`, createdById: u[0] }),
        await post(id, '/projects', { name: `seed ${id}`, createdById: u[1] }),
      ]);
    }

    // The load starts here in the log (the DataSources' own start-up queries come before it).
    const startMarker = await markLog(server.url, 'start');
    const acknowledged = new Map<number, string>();
    const posted = new Map<number, string>();
    let n = 0;
    const one = (tenant: string) => {
      const r = ++n;
      const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)];
      const kind = r % 4;
      let head: string;
      let body = '';
      if (kind === 0) head = `GET /users?q=${encodeURIComponent(`tag:${tenant}:`)} HTTP/1.1`;
      else if (kind === 1) head = `GET /projects/${pick(projects.get(tenant)!)} HTTP/1.1`;
      else if (kind === 2) {
        head = 'POST /users HTTP/1.1';
        body = JSON.stringify({ email: `r${r}.${tenant}@x.test`, name: `tag:${tenant}:${r}` });
      } else {
        head = 'POST /projects HTTP/1.1';
        body = JSON.stringify({ name: `tag:${tenant}:${r}`, createdById: pick(users.get(tenant)!) });
      }
      if (body) posted.set(r, tenant);
      // Most clients abort 0-4 ms in (writes 0-12 ms: validation makes them reach the database
      // later, and some must be cut between their INSERT and COMMIT); one in six waits for its answer.
      const abort = r % 6 === 5 ? undefined : Math.random() * (body ? 12 : 4);
      return sendAndMaybeAbort(port, `${head}\r\nX-Tenant-ID: ${tenant}`, body, abort).then((res) => {
        if (res?.status === 201) acknowledged.set(r, tenant);
      });
    };
    const ROUNDS = 60;
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(TENANTS.flatMap(({ id }) => [one(id), one(id)]));
    }
    // Every unit has ended once each pool of one connection has served one more request after them.
    for (const { id } of TENANTS)
      assert.equal((await sendAndMaybeAbort(port, `GET /users?limit=1 HTTP/1.1\r\nX-Tenant-ID: ${id}`, ''))?.status, 200);
    await new Promise((ok) => setTimeout(ok, 300));
    const endMarker = await markLog(server.url, 'end');
    await waitFor(() => logged.log().includes(endMarker), 'the statement log');
    const log = logged.log();
    const records = parseLog(log.slice(log.indexOf(startMarker), log.indexOf(endMarker)));

    const { violations, transactions, statements } = audit(records, t.runtimeRole, ownerOf);
    assert.deepEqual(violations.slice(0, 10), [], `${violations.length} statements outside their request's transaction`);

    // Rows of the load, read as the owner from every model's place.
    const rows: { owner: string; tenant: string; tag: string }[] = [];
    const read = async (db: string, sql: string) => {
      const q = new Client({ connectionString: new URL(`/${db}`, server.url).toString() });
      await q.connect();
      try {
        rows.push(...(await q.query(sql)).rows);
      } finally {
        await q.end();
      }
    };
    const naming = t.app.get(TenantNaming);
    const both = (schema: string, owner: string | null) =>
      `SELECT ${owner ? `'${owner}'` : 'tenant_id'} AS owner, tenant_id AS tenant, name AS tag FROM "${schema}".users ` +
      `UNION ALL SELECT ${owner ? `'${owner}'` : 'tenant_id'}, tenant_id, name FROM "${schema}".projects`;
    await read(t.controlDatabase, both(naming.sharedSchema, null));
    for (const { id, strategy } of TENANTS) {
      if (strategy === 'schema') await read(t.controlDatabase, both(naming.schemaFor(id), id));
      if (strategy === 'database') await read(naming.databaseFor(id), both('public', id));
    }
    const written = new Map<number, string>();
    for (const row of rows as { tenant: string; tag: string; owner: string }[]) {
      const m = /^tag:([a-z0-9-]+):(\d+)$/.exec(row.tag);
      if (!m) continue;
      assert.equal(m[1], row.tenant, `row ${row.tag} was written under tenant '${row.tenant}'`);
      assert.equal(row.owner, row.tenant, `row ${row.tag} of '${row.tenant}' is in the place of '${row.owner}'`);
      written.set(Number(m[2]), row.tenant);
    }
    const committed = new Set(transactions.filter((x) => x.outcome === 'COMMIT').flatMap((x) => x.inserts));
    const rolledBack = transactions.filter((x) => x.outcome === 'ROLLBACK').flatMap((x) => x.inserts);
    for (const r of rolledBack) assert.ok(!written.has(r), `request ${r} was rolled back, yet its row exists`);
    for (const r of written.keys()) assert.ok(committed.has(r), `request ${r} has a row, yet no committed transaction inserted it`);
    for (const [r, tenant] of acknowledged) assert.equal(written.get(r), tenant, `request ${r} got a 201, yet its row is missing`);

    // The load did what it is meant to: many aborted units, some after their first query.
    const figures = {
      requests: n,
      statements,
      transactions: transactions.length,
      rolledBack: transactions.filter((x) => x.outcome === 'ROLLBACK').length,
      rolledBackWrites: rolledBack.length,
      rolledBackAfterAQuery: transactions.filter((x) => x.outcome === 'ROLLBACK' && x.statements > 0).length,
      acknowledged: acknowledged.size,
      written: written.size,
      posted: posted.size,
    };
    console.log(`figures: ${JSON.stringify(figures)}`);
    assert.ok(figures.rolledBack >= 20, `only ${figures.rolledBack} units were rolled back`);
    assert.ok(figures.rolledBackAfterAQuery >= 10, `only ${figures.rolledBackAfterAQuery} units were rolled back after a query`);
    assert.ok(figures.acknowledged >= 10, `only ${figures.acknowledged} writes were acknowledged`);
  });
});
