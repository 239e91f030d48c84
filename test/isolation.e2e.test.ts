// Isolation attacks. Part 1 runs once per model (shared, schema, database) on pools of ONE
// connection, so every leak between tenants would have to go through the same pooled session.
// Part 2 runs one app holding tenants of all three models at once, under concurrent load.
// Every attack checks the refusal from inside the service AND the database state through an owner
// connection, so a "refusal" that silently wrote something would still fail the test.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ClsService } from 'nestjs-cls';
import request from 'supertest';
import type { DataSource, Repository } from 'typeorm';
import {
  getTenantRepositoryToken,
  IsolationModel,
  NoTenantContextError,
  PoolRegistry,
  TenancyService,
  TenantCatalog,
  TenantDataSource,
  TenantKeyring,
  decryptValue,
  keyVersionOf,
  UnitOfWorkAbortedError,
  UnitOfWorkEndedError,
} from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { pgErrorCode } from '../libs/tenancy/src/errors/pg-error-code';
import { quoteIdent } from '../libs/tenancy/src/core/sql';
import type { TenantLocation } from '../libs/tenancy/src';
import { HomeDataSource } from '../libs/tenancy/src/pools/home-data-source';
import { User } from '../src/users/user.entity';
import { UsersService } from '../src/users/users.service';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });
/** Every row a test creates names its tenant, so a foreign row is recognisable wherever it shows up. */
const tagged = (tenant: string, label: string) => `${label}@${tenant}.test`;
const RLS_VIOLATION = '42501';

interface Row {
  tenant_id: string;
  email: string;
}

/** Small helpers over a running test app. */
class Harness {
  constructor(readonly t: TestApp) {}

  /**
   * The rows with each encrypted email decrypted under the data key of the row's own tenant, as
   * stored (the email is an encrypted column): a row that does not decrypt under its tenant_id's key
   * keeps its ciphertext, so it matches nothing the tests expect.
   */
  async reveal<T>(rows: T): Promise<T> {
    if (!Array.isArray(rows)) return rows;
    for (const r of rows as Partial<Row>[]) {
      if (typeof r?.email !== 'string' || !r.email.startsWith('enc1:') || !r.tenant_id) continue;
      const keys = await this.t.app.get(TenantKeyring).read(r.tenant_id);
      const key = keys?.keys.get(keyVersionOf(r.email) ?? 0);
      r.email = (key && decryptValue(key, r.email, { tenantId: r.tenant_id, table: 'users', column: 'email' })) ?? r.email;
    }
    return rows;
  }

  get tenancy() {
    return this.t.app.get(TenancyService);
  }
  get tds() {
    return this.t.app.get(TenantDataSource);
  }
  get home(): DataSource {
    return this.t.app.get(HomeDataSource).dataSource;
  }

  location(tenantId: string): TenantLocation {
    const record = this.t.app.get(TenantCatalog).get(tenantId);
    assert.ok(record, `tenant ${tenantId} is not in the catalog`);
    return this.t.app.get(IsolationStrategies).for(record.strategy).location(record);
  }

  /** Every row of `table` at the tenant's location, read as the owner with row security off. */
  async ownerRows(tenantId: string, table = 'users'): Promise<Row[]> {
    const { database, schema } = this.location(tenantId);
    return withOwnerClient(database, async (c) => {
      // Fails loudly (instead of silently filtering) if the test server's owner cannot bypass RLS.
      await c.query('SET row_security = off');
      const column = table === 'users' ? 'email' : 'name AS email';
      const { rows } = await c.query(`SELECT tenant_id, ${column} FROM ${quoteIdent(schema)}.${quoteIdent(table)} ORDER BY 2`);
      return rows as Row[];
    }).then((rows) => this.reveal(rows));
  }

  async ownerEmails(tenantId: string): Promise<string[]> {
    return (await this.ownerRows(tenantId)).filter((r) => r.tenant_id === tenantId).map((r) => r.email);
  }

  async createUser(tenant: string, label: string): Promise<{ id: string; email: string }> {
    const res = await request(this.t.http)
      .post('/users')
      .set(as(tenant))
      .send({ email: tagged(tenant, label), name: label });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  /** Runs `sql` as `tenant` through the TenantDataSource, in its own unit of work. */
  query<T = any>(tenant: string, sql: string, params?: unknown[]): Promise<T> {
    return this.tenancy.run(tenant, () => this.tds.query<T>(sql, params)).then((rows) => this.reveal(rows));
  }
}

async function pgCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (err as { code?: string }).code ?? 'no code';
  }
  return 'no error';
}

// ---------------------------------------------------------------------------------------------------
// Part 1: one suite per model.
// ---------------------------------------------------------------------------------------------------
for (const model of MODELS) {
  describe(`isolation attacks under the ${model} model (pools of one connection)`, () => {
    let t: TestApp;
    let h: Harness;
    const A = `iso-a-${model}`;
    const B = `iso-b-${model}`;
    const seeded: Record<string, string[]> = { [A]: [], [B]: [] };
    const victimUser: Record<string, string> = {};

    beforeAll(async () => {
      t = await startTestApp({
        tenants: [
          { id: A, name: 'Tenant A', strategy: model, tier: model === 'database' ? 'solo' : undefined },
          { id: B, name: 'Tenant B', strategy: model, tier: model === 'database' ? 'solo' : undefined },
        ],
        tiers: { solo: { strategy: 'database', pool: { max: 1 } } },
        env: { TENANCY_POOL_MAX: '1' },
      });
      h = new Harness(t);
      for (const tenant of [A, B]) {
        for (const label of ['first', 'second', 'third']) {
          const user = await h.createUser(tenant, label);
          seeded[tenant].push(user.email);
          victimUser[tenant] ??= user.id;
        }
        const project = await request(t.http)
          .post('/projects')
          .set(as(tenant))
          .send({ name: `plan-of-${tenant}`, createdById: victimUser[tenant] });
        assert.equal(project.status, 201, JSON.stringify(project.body));
      }
    });
    afterAll(async () => t?.close());

    it('the pools really hold one connection (the premise of the leak checks below)', async () => {
      // Two units at once on the same pool must serialise: the second sees the first one's backend.
      const pids = await Promise.all([A, A, A].map((tenant) => h.query<{ pid: number }[]>(tenant, 'SELECT pg_backend_pid() AS pid')));
      assert.equal(new Set(pids.map(([r]) => r.pid)).size, 1);
    });

    it('a raw query with no WHERE clause returns only the tenant’s own rows', async () => {
      for (const tenant of [A, B]) {
        const users: Row[] = await h.query(tenant, 'SELECT tenant_id, email FROM users');
        assert.deepEqual(users.map((r) => r.email).sort(), [...seeded[tenant]].sort());
        assert.ok(users.every((r) => r.tenant_id === tenant));
        const projects: { tenant_id: string; name: string }[] = await h.query(tenant, 'SELECT tenant_id, name FROM projects');
        assert.deepEqual(
          projects.map((p) => `${p.tenant_id}/${p.name}`),
          [`${tenant}/plan-of-${tenant}`],
        );
      }
    });

    it('naming another tenant’s rows explicitly finds nothing, although they exist', async () => {
      // The owner sees B's rows, so the empty answers below are isolation, not an empty table.
      assert.deepEqual((await h.ownerEmails(B)).sort(), [...seeded[B]].sort());
      assert.deepEqual(await h.query(A, 'SELECT * FROM users WHERE tenant_id = $1', [B]), []);
      assert.deepEqual(await h.query(A, 'SELECT * FROM users WHERE id = $1', [victimUser[B]]), []);
      assert.deepEqual(await h.query(A, 'SELECT * FROM users WHERE tenant_id <> $1', [A]), []);
      assert.deepEqual(await h.query(A, 'SELECT * FROM projects WHERE tenant_id = $1', [B]), []);
    });

    it('qualifying another tenant’s table by its schema (and database) gives zero rows or an error, never their data', async () => {
      const { database, schema } = h.location(B);
      const qualified = [`${quoteIdent(schema)}.users`];
      // Database model: a cross-database reference is refused by PostgreSQL itself.
      if (model === 'database') qualified.push(`${quoteIdent(database)}.${quoteIdent(schema)}.users`);
      for (const table of qualified) {
        let rows: Row[] = [];
        try {
          rows = await h.query(A, `SELECT tenant_id, email FROM ${table}`);
        } catch (err) {
          assert.ok(
            ['42501', '0A000', '3F000', '42P01'].includes(String((err as { code?: string }).code)),
            `${table}: ${(err as Error).message}`,
          );
        }
        assert.ok(
          rows.every((r) => r.tenant_id === A),
          `${table} leaked ${JSON.stringify(rows)}`,
        );
        assert.ok(!rows.some((r) => seeded[B].includes(r.email)));
      }
      if (model === 'schema') {
        // The schema model's second wall: the runtime role may use B's schema, RLS still filters.
        const rows = await h.query(A, `SELECT * FROM ${quoteIdent(schema)}.users`);
        assert.deepEqual(rows, []);
      }
    });

    it('UPDATE and DELETE aimed at another tenant’s rows touch nothing', async () => {
      const before = await h.ownerRows(B);
      const { schema } = h.location(B);
      for (const prefix of ['', `${quoteIdent(schema)}.`]) {
        const [, updated] = await h.query<[unknown, number]>(A, `UPDATE ${prefix}users SET name = 'pwned' WHERE tenant_id = $1`, [B]);
        assert.equal(updated, 0);
        const [, deleted] = await h.query<[unknown, number]>(A, `DELETE FROM ${prefix}projects WHERE tenant_id = $1`, [B]);
        assert.equal(deleted, 0);
      }
      // The same statements do reach rows when they are the tenant's own (the counts can be non-zero).
      const [, own] = await h.query<[unknown, number]>(A, `UPDATE users SET name = name WHERE tenant_id = $1`, [A]);
      assert.equal(own, seeded[A].length);
      assert.deepEqual(await h.ownerRows(B), before);
      assert.equal((await h.ownerRows(B, 'projects')).filter((r) => r.tenant_id === B).length, 1);
    });

    it('INSERT with another tenant’s tenant_id is refused by WITH CHECK, and nothing is written', async () => {
      const planted = tagged(B, 'planted-by-a');
      const code = await pgCode(
        h.query(A, `INSERT INTO users (tenant_id, id, email, name) VALUES ($1, gen_random_uuid(), $2, 'Intruder')`, [B, planted]),
      );
      assert.equal(code, RLS_VIOLATION);
      // Nowhere: not at A's location, not at B's.
      for (const tenant of [A, B]) assert.ok(!(await h.ownerRows(tenant)).some((r) => r.email === planted));
    });

    it('UPDATE moving own rows to another tenant is refused, and the rows stay put', async () => {
      const mine = await h.ownerEmails(A);
      assert.equal(await pgCode(h.query(A, 'UPDATE users SET tenant_id = $1', [B])), RLS_VIOLATION);
      assert.equal(await pgCode(h.query(A, 'UPDATE projects SET tenant_id = $1', [B])), RLS_VIOLATION);
      assert.deepEqual(await h.ownerEmails(A), mine);
      assert.ok(!(await h.ownerEmails(B)).some((email) => mine.includes(email)));
      assert.equal((await h.ownerRows(A, 'projects')).filter((r) => r.tenant_id === A).length, 1);
    });

    it('a project cannot point at another tenant’s user, even by raw INSERT (composite foreign key)', async () => {
      const code = await pgCode(
        h.query(A, `INSERT INTO projects (id, name, created_by_id) VALUES (gen_random_uuid(), 'trojan', $1)`, [victimUser[B]]),
      );
      assert.equal(code, '23503');
      assert.ok(!(await h.ownerRows(A, 'projects')).some((r) => r.email === 'trojan'));
    });

    it('a temporary table cannot shadow a tenant table for the next tenant on the same connection', async () => {
      // Tenant A plants a session-lived temp table named like the real one on the single pooled
      // connection. B's next unit must still read (and write) its own table, not A's decoy.
      // (A tenant database grants no TEMPORARY privilege: there planting the decoy is refused outright.)
      await h.tenancy
        .run(A, async () => {
          await h.tds.query(
            `CREATE TEMP TABLE users (tenant_id text, id uuid, email text, name text, created_at timestamptz, updated_at timestamptz)`,
          );
          await h.tds.query(`INSERT INTO pg_temp.users VALUES ($1, gen_random_uuid(), 'decoy@evil.test', 'Decoy', now(), now())`, [B]);
        })
        .catch((err) => {
          assert.equal(model, 'database');
          assert.equal(pgErrorCode(err), '42501');
        });
      const seen: Row[] = await h.query(B, 'SELECT tenant_id, email FROM users');
      assert.deepEqual(seen.map((r) => r.email).sort(), [...seeded[B]].sort());
      const listed = await request(t.http).get('/users').query({ limit: 100 }).set(as(B));
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.items.map((u: { email: string }) => u.email).sort(), [...seeded[B]].sort());
      // B's write lands in B's real table (durable, visible to the owner), not in the decoy.
      const created = await h.createUser(B, 'after-decoy');
      seeded[B].push(created.email);
      assert.ok((await h.ownerEmails(B)).includes(created.email));
      const decoy: Row[] = await h.query(A, 'SELECT tenant_id, email FROM pg_temp.users').catch(() => []);
      assert.ok(!decoy.some((r) => r.email === created.email), 'B’s write went into A’s temp table');
      await h.query(A, 'DROP TABLE IF EXISTS pg_temp.users');
    });

    it('with no tenant in context, tenant-owned queries throw NoTenantContextError before touching the database', async () => {
      const tds = h.tds;
      const repo = t.app.get<string, Repository<User>>(getTenantRepositoryToken(User), { strict: false });
      const registry = t.app.get(PoolRegistry);
      // Spies on every way into a runtime pool: none of them may be reached.
      const home = h.home as DataSource & { driver: { master: { connect: (...a: unknown[]) => unknown } } };
      const touched: string[] = [];
      const spy = <O extends object>(obj: O, key: keyof O & string) => {
        const original = (obj as any)[key];
        (obj as any)[key] = (...args: unknown[]) => {
          touched.push(key);
          return original.apply(obj, args);
        };
        return () => ((obj as any)[key] = original);
      };
      const restore = [spy(home, 'createQueryRunner'), spy(home, 'query'), spy(home.driver.master, 'connect'), spy(registry, 'acquire')];
      try {
        // Synchronous throws: nothing asynchronous (no I/O) can have started.
        assert.throws(() => tds.query('SELECT 1'), NoTenantContextError);
        assert.throws(() => tds.manager, NoTenantContextError);
        assert.throws(() => tds.getRepository(User), NoTenantContextError);
        assert.throws(() => repo.find(), NoTenantContextError);
        assert.throws(() => repo.createQueryBuilder('u'), NoTenantContextError);
        await assert.rejects(t.app.get(UsersService).list({ limit: 10 }), NoTenantContextError);
        // Inside an async context that carries no tenant (a job that forgot tenancy.run).
        await t.app.get(ClsService).run(async () => {
          assert.throws(() => tds.query('SELECT 1'), NoTenantContextError);
          assert.throws(() => repo.findOneBy({ id: victimUser[A] }), NoTenantContextError);
        });
        assert.deepEqual(touched, []);
      } finally {
        for (const r of restore) r();
      }
      // The spies were live: the same call inside a tenant context does go through them.
      restore.splice(0, restore.length, spy(home.driver.master, 'connect'), spy(registry, 'acquire'));
      try {
        await h.query(A, 'SELECT 1');
      } finally {
        for (const r of restore) r();
      }
      assert.ok(touched.length > 0);
    });

    it('a continuation that outlives its unit of work cannot query on a connection since given back', async () => {
      let late: Promise<unknown> | undefined;
      await h.tenancy.run(A, async () => {
        await h.tds.query('SELECT 1');
        late = new Promise((ok) => setTimeout(ok, 20)).then(() => h.tds.query('SELECT email FROM users'));
      });
      // Meanwhile B takes the single connection; A's stray query must fail, not run as B.
      const during = h.query<Row[]>(B, 'SELECT tenant_id, email FROM users, pg_sleep(0.05)');
      await assert.rejects(late!, UnitOfWorkEndedError);
      assert.ok((await during).every((r) => r.tenant_id === B));
    });

    it(`one connection serves ${A} and ${B} in turn (50 rounds, HTTP and tenancy.run) with no leaked setting`, async () => {
      const registry = t.app.get(PoolRegistry);
      const catalog = t.app.get(TenantCatalog);
      /** The pool that serves `tenant`, queried outside any unit of work. */
      const outside = async (tenant: string, sql: string) => {
        if (model !== 'database') return h.home.query(sql);
        const lease = await registry.acquire(catalog.get(tenant)!);
        try {
          return await lease.dataSource.query(sql);
        } finally {
          lease.release();
        }
      };
      const probe = `SELECT current_setting('app.tenant_id', true) AS tid, current_setting('search_path') AS path,
                            current_user AS who, pg_backend_pid() AS pid`;
      const pids = new Map<string, Set<number>>();
      for (let round = 0; round < 50; round++) {
        for (const tenant of [A, B]) {
          // Inside a unit of work: the tenant's settings, the runtime role, own rows only.
          const [inside, rows] = await h.tenancy.run(tenant, async () => [
            (await h.tds.query<any[]>(probe))[0],
            await h.tds.query<Row[]>('SELECT tenant_id, email FROM users'),
          ]);
          await h.reveal(rows);
          assert.equal(inside.tid, tenant);
          assert.equal(inside.path.replace(/"/g, '').split(',')[0].trim(), h.location(tenant).schema);
          assert.equal(inside.who, t.runtimeRole);
          assert.ok(rows.length >= 3 && rows.every((r) => r.tenant_id === tenant && r.email.endsWith(`@${tenant}.test`)));
          const pool = model === 'database' ? tenant : 'home';
          if (!pids.has(pool)) pids.set(pool, new Set());
          pids.get(pool)!.add(inside.pid);

          // The same through HTTP: a list and, every tenth round, a write.
          if (round % 10 === 0) seeded[tenant].push((await h.createUser(tenant, `round${round}`)).email);
          const res = await request(t.http).get('/users').query({ limit: 100 }).set(as(tenant));
          assert.equal(res.status, 200);
          assert.deepEqual(res.body.items.map((u: { email: string }) => u.email).sort(), [...seeded[tenant]].sort());

          // Between units, on that same single connection: no tenant, default search_path.
          const [between] = await outside(tenant, probe);
          assert.equal(between.pid, inside.pid, 'the check must hit the connection the unit used');
          assert.ok(between.tid === null || between.tid === '', `app.tenant_id leaked: ${between.tid}`);
          assert.ok(!between.path.includes('tenant') && !between.path.includes('tenancy'), `search_path leaked: ${between.path}`);
        }
      }
      // The alternation really happened on one backend per pool (a new backend would hide a leak).
      for (const [pool, set] of pids) assert.equal(set.size, 1, `pool ${pool} used ${set.size} backends`);
    });

    it('a unit of work that throws after writing leaves nothing, and the connection comes back clean', async () => {
      const ghost = tagged(A, 'ghost');
      const broken = tagged(A, 'broken');
      await assert.rejects(
        h.tenancy.run(A, async () => {
          await h.tds.query(`INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), $1, 'Ghost')`, [ghost]);
          const [{ n }] = await h.tds.query<{ n: number }[]>('SELECT count(*)::int AS n FROM users WHERE email = $1', [ghost]);
          assert.equal(n, 1); // written, inside the transaction
          throw new Error('job failed after its write');
        }),
        /job failed after its write/,
      );
      // A failing statement after a good write: the whole unit goes, not just the statement.
      const code = await pgCode(
        h.tenancy.run(A, async () => {
          await h.tds.getRepository(User).insert({ id: randomUUID(), email: broken, name: 'Broken' });
          await h.tds.query(`INSERT INTO users (id, email, name) VALUES ($1, 'dup@x.test', 'Dup')`, [victimUser[A]]);
        }),
      );
      assert.equal(code, '23505');
      const emails = (await h.ownerRows(A)).map((r) => r.email);
      assert.ok(!emails.includes(ghost) && !emails.includes(broken));
      // The single connection was rolled back and reused: the next unit works and sees no trace.
      assert.deepEqual(await h.query(A, 'SELECT * FROM users WHERE email = ANY($1)', [[ghost, broken]]), []);
    });

    it('a unit whose transaction an error aborted cannot end in success, even if the code swallowed the error', async () => {
      // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not with an error: without a
      // check, the caller (or an HTTP 201) would be told the write was saved when nothing was.
      const swallowed = tagged(A, 'swallowed');
      await assert.rejects(
        h.tenancy.run(A, async () => {
          await h.tds.query(`INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), $1, 'Swallowed')`, [swallowed]);
          await h.tds.query('SELECT 1 / 0').catch(() => undefined);
          return 'looks saved';
        }),
        UnitOfWorkAbortedError,
      );
      assert.ok(!(await h.ownerEmails(A)).includes(swallowed));
      // A failure contained in a savepoint (TenantDataSource.transaction) leaves the unit committable.
      const kept = tagged(A, 'kept');
      seeded[A].push(kept);
      await h.tenancy.run(A, async () => {
        await h.tds.query(`INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), $1, 'Kept')`, [kept]);
        await h.tds.transaction((m) => m.query('SELECT 1 / 0')).catch(() => undefined);
      });
      assert.ok((await h.ownerEmails(A)).includes(kept));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Part 2: one app with tenants of all three models at once.
// ---------------------------------------------------------------------------------------------------
describe('isolation with tenants of all three models in one app', () => {
  const TENANTS = [
    { id: 'mix-s1', strategy: 'shared' },
    { id: 'mix-s2', strategy: 'shared' },
    { id: 'mix-c1', strategy: 'schema' },
    { id: 'mix-c2', strategy: 'schema' },
    { id: 'mix-d1', strategy: 'database' },
    { id: 'mix-d2', strategy: 'database' },
  ] as const;
  const HOME_POOL = 3;
  let t: TestApp;
  let h: Harness;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp({
      tenants: TENANTS.map((x) => ({ id: x.id, name: x.id, strategy: x.strategy })),
      env: { TENANCY_POOL_MAX: String(HOME_POOL) },
    });
    h = new Harness(t);
    // One listening socket for all requests (supertest would otherwise open a server per request).
    await new Promise<void>((ok) => t.http.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${t.http.address().port}`;
  });
  afterAll(async () => t?.close());

  it('alternating shared, schema and database tenants, each unit carries exactly its own settings', async () => {
    for (let round = 0; round < 20; round++) {
      for (const { id } of TENANTS) {
        const [s] = await h.query<any[]>(
          id,
          `SELECT current_setting('app.tenant_id') AS tid, current_setting('search_path') AS path, current_user AS who`,
        );
        assert.equal(s.tid, id);
        assert.equal(s.path.replace(/"/g, '').split(',')[0].trim(), h.location(id).schema);
        assert.equal(s.who, t.runtimeRole);
      }
    }
  });

  it('300 concurrent creates and lists over all models: only own rows in every answer, no 5xx', async () => {
    let seed = 0x5eed;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    const created = new Map<string, Set<string>>(TENANTS.map((x) => [x.id, new Set<string>()]));
    const firstUser = new Map<string, string>();
    for (const { id } of TENANTS) {
      const u = await h.createUser(id, 'founder');
      created.get(id)!.add(u.email);
      firstUser.set(id, u.id);
    }
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    let n = 0;
    const one = async () => {
      const i = n++;
      const tenant = TENANTS[Math.floor(random() * TENANTS.length)].id;
      const kind = random();
      let res: request.Response;
      if (kind < 0.4) {
        const email = tagged(tenant, `load${i}`);
        res = await request(base)
          .post('/users')
          .set(as(tenant))
          .send({ email, name: `Load ${i}` });
        if (res.status === 201) created.get(tenant)!.add(email);
        if (res.status === 201 && res.body.email !== email) problems.push(`#${i} ${tenant} created ${res.body.email}`);
      } else if (kind < 0.55) {
        res = await request(base)
          .post('/projects')
          .set(as(tenant))
          .send({ name: `p${i}-${tenant}`, createdById: firstUser.get(tenant) });
        if (res.status === 201 && res.body.createdBy?.email !== tagged(tenant, 'founder'))
          problems.push(`#${i} ${tenant} project by ${res.body.createdBy?.email}`);
      } else if (kind < 0.8) {
        res = await request(base).get('/users').query({ limit: 100 }).set(as(tenant));
        for (const u of res.body.items ?? []) if (!u.email.endsWith(`@${tenant}.test`)) problems.push(`#${i} ${tenant} listed ${u.email}`);
      } else {
        res = await request(base).get('/projects').query({ limit: 100 }).set(as(tenant));
        for (const p of res.body.items ?? []) {
          if (!p.name.endsWith(`-${tenant}`) || !p.createdBy?.email.endsWith(`@${tenant}.test`))
            problems.push(`#${i} ${tenant} listed ${p.name}`);
        }
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    };
    for (let batch = 0; batch < 6; batch++) await Promise.all(Array.from({ length: 50 }, one));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s >= 300),
      [],
      JSON.stringify(Object.fromEntries(statuses)),
    );
    assert.equal(
      [...statuses.values()].reduce((a, b) => a + b),
      300,
    );

    // Afterwards every tenant holds exactly the users it created, at its own location.
    for (const { id } of TENANTS) {
      const res = await request(base).get('/users').query({ limit: 100 }).set(as(id));
      assert.deepEqual(res.body.items.map((u: { email: string }) => u.email).sort(), [...created.get(id)!].sort());
      assert.deepEqual((await h.ownerEmails(id)).sort(), [...created.get(id)!].sort());
      // Every row at the tenant's location is tagged with its own tenant_id (the shared table holds
      // s1 and s2 together; a schema or database holds one tenant only).
      for (const r of await h.ownerRows(id)) {
        assert.ok(r.email.endsWith(`@${r.tenant_id}.test`), `${r.email} stored as ${r.tenant_id}`);
        if (h.location(id).schema !== 'tenancy_shared') assert.equal(r.tenant_id, id);
      }
    }
  });

  it('after the load, no connection of any pool carries a tenant setting', async () => {
    // Take every connection of the home pool at once (each query holds its own), then each tenant pool.
    const probe = `SELECT current_setting('app.tenant_id', true) AS tid, current_setting('search_path') AS path, pg_backend_pid() AS pid, pg_sleep(0.1)`;
    const homeRows = await Promise.all(Array.from({ length: HOME_POOL }, () => h.home.query(probe)));
    assert.equal(new Set(homeRows.map(([r]) => r.pid)).size, HOME_POOL);
    const registry = t.app.get(PoolRegistry);
    const catalog = t.app.get(TenantCatalog);
    const tenantRows = [];
    for (const id of ['mix-d1', 'mix-d2']) {
      const lease = await registry.acquire(catalog.get(id)!);
      try {
        // Up to the pool's size (5, the default for a tenant without a tier) at once.
        tenantRows.push(...(await Promise.all(Array.from({ length: 5 }, () => lease.dataSource.query(probe)))));
      } finally {
        lease.release();
      }
    }
    for (const [r] of [...homeRows, ...tenantRows]) {
      assert.ok(r.tid === null || r.tid === '', `pid ${r.pid} carries app.tenant_id=${r.tid}`);
      assert.ok(!/tenant|tenancy/.test(r.path), `pid ${r.pid} carries search_path=${r.path}`);
    }
  });

  it('a shared-model tenant cannot reach a schema-model tenant’s schema, nor the other way round', async () => {
    await h.createUser('mix-c1', 'schema-secret');
    await h.createUser('mix-s1', 'shared-secret');
    const c1 = quoteIdent(h.location('mix-c1').schema);
    // From the shared model, name the schema tenant's table and its tenant id.
    assert.deepEqual(await h.query('mix-s1', `SELECT * FROM ${c1}.users`), []);
    assert.deepEqual(await h.query('mix-s1', `SELECT * FROM ${c1}.users WHERE tenant_id = 'mix-c1'`), []);
    // From the schema model, name the shared table.
    assert.deepEqual(await h.query('mix-c1', `SELECT * FROM tenancy_shared.users`), []);
    // From the database model, the home database's tables do not exist at all.
    assert.notEqual(await pgCode(h.query('mix-d1', `SELECT * FROM tenancy_shared.users`)), 'no error');
    // Writing across is refused (WITH CHECK) and leaves nothing.
    assert.equal(
      await pgCode(
        h.query(
          'mix-s1',
          `INSERT INTO ${c1}.users (tenant_id, id, email, name) VALUES ('mix-c1', gen_random_uuid(), 'x@mix-c1.test', 'X')`,
        ),
      ),
      RLS_VIOLATION,
    );
    assert.ok(!(await h.ownerEmails('mix-c1')).includes('x@mix-c1.test'));
  });

  it('a row written into another tenant’s schema under one’s own tenant_id never becomes that tenant’s data', async () => {
    // The runtime role may use every tenant schema and WITH CHECK (tenant_id = own) would pass, so each
    // tenant's schema pins its tables to its id (CHECK tenant_pin): the stray row is refused outright.
    const c1 = quoteIdent(h.location('mix-c1').schema);
    const stray = tagged('mix-c2', 'stray');
    const code = await pgCode(
      h.query('mix-c2', `INSERT INTO ${c1}.users (id, email, name) VALUES (gen_random_uuid(), $1, 'Stray')`, [stray]),
    );
    assert.equal(code, '23514');
    const inC1 = (await h.ownerRows('mix-c1')).filter((r) => r.email === stray);
    assert.ok(inC1.every((r) => r.tenant_id === 'mix-c2'));
    assert.deepEqual(await h.query('mix-c1', 'SELECT * FROM users WHERE email = $1', [stray]), []);
    const listed = await request(base).get('/users').query({ limit: 100, q: 'stray' }).set(as('mix-c1'));
    assert.deepEqual(listed.body.items, []);
    assert.ok(!(await h.ownerEmails('mix-c1')).includes(stray));
    // The writer can take it back (RLS lets it touch only its own row), leaving c1's schema clean.
    await h.query('mix-c2', `DELETE FROM ${c1}.users WHERE email = $1`, [stray]);
    assert.deepEqual(
      (await h.ownerRows('mix-c1')).filter((r) => r.tenant_id !== 'mix-c1'),
      [],
    );
  });
});
