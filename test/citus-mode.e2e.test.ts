// Citus mode (issue 13), proven on plain PostgreSQL from the server's statement log: a PostgreSQL
// started by this suite logs every statement (log_statement = 'all'), and the log is what Citus
// would send on to its workers.
// Part 1, plain PostgreSQL (no citus extension, so Citus mode is off): every tenant query the
// reference API, the tenant repositories, the tenant EntityManager and the TenantDataSource build
// carries `tenant_id = '<its tenant>'` for every tenant table it reads or writes, in all three
// models; the project's creator is joined on (tenant_id, created_by_id); raw SQL without the
// predicate still sees only the tenant's rows (row-level security stays the guarantee).
// Part 2, Citus mode: template1 gets stand-ins of Citus's catalog tables and functions (the same
// names and signatures; the functions check what Citus checks and record each call) and a
// pg_extension row, so the kit detects Citus ('auto') in every database created after. Then: the
// preamble (BEGIN alone; SET LOCAL propagation and tenant, each a statement of its own), the
// distribution of the shared tables and of each schema tenant's schema, the runtime role's
// pg_dist_authinfo row, no CREATE SCHEMA for an existing schema, and a move, an export and a
// delete that set the tenant with SET LOCAL on the owner's side.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import type { Repository } from 'typeorm';
import {
  blindIndex,
  getTenantRepositoryToken,
  TenancyService,
  TenantCatalog,
  TenantDataSource,
  TenantExporter,
  TenantLifecycle,
  TenantMover,
} from '../libs/tenancy/src';
import { TenantNaming } from '../libs/tenancy/src/catalog/tenant-naming';
import { Project } from '../src/projects/project.entity';
import { User } from '../src/users/user.entity';
import { markLog, parseLog, startStatementLogServer, type LogRecord, type StatementLogServer } from './support/statement-log';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

interface Statement extends LogRecord {
  sql: string;
  /** The tenant the session's transaction was set to when the statement ran (undefined: none). */
  tenant?: string;
}

/** The statements of `user`, each with the tenant its transaction was set to by its preamble. */
function statementsOf(log: string, user: string): Statement[] {
  const tenantOf = new Map<string, string>();
  const out: Statement[] = [];
  for (const r of parseLog(log)) {
    if (r.user !== user || r.level !== 'LOG') continue;
    const m = /^(?:statement|execute [^:]*):\s([\s\S]*)$/.exec(r.text);
    if (!m) continue;
    const sql = m[1].trim();
    const set =
      /set_config\('app\.tenant_id', '([a-z0-9-]+)', true\)/.exec(sql)?.[1] ?? /^SET LOCAL app\.tenant_id = '([a-z0-9-]+)'$/.exec(sql)?.[1];
    if (set) tenantOf.set(r.session, set);
    out.push({ ...r, sql, tenant: tenantOf.get(r.session) });
    if (/^(COMMIT|ROLLBACK)$/i.test(sql)) tenantOf.delete(r.session);
  }
  return out;
}

/** Each reference of a statement to a tenant table (users, projects): its alias, if any. */
function tenantTableRefs(sql: string): { table: string; alias?: string }[] {
  const refs: { table: string; alias?: string }[] = [];
  const re = /\b(FROM|JOIN|UPDATE)\s+(?:"[^"]+"\.)?"(users|projects)"(?:\s+(?:AS\s+)?"([^"]+)")?/gi;
  for (let m = re.exec(sql); m; m = re.exec(sql)) refs.push({ table: m[2], alias: m[3] });
  return refs;
}

/** What is wrong with the statement's tenant predicates (empty when every reference carries its tenant's). */
function predicateProblems(s: Statement): string[] {
  if (!s.tenant) return [`no tenant set for: ${s.sql.slice(0, 160)}`];
  return tenantTableRefs(s.sql)
    .filter(({ alias }) => !s.sql.includes(alias ? `"${alias}"."tenant_id" = '${s.tenant}'` : `"tenant_id" = '${s.tenant}'`))
    .map(({ table, alias }) => `${table}${alias ? ` "${alias}"` : ''} has no tenant_id = '${s.tenant}' in: ${s.sql.slice(0, 300)}`);
}

const mark = (url: string) => markLog(url, 'citus');

async function waitForLog(read: () => string, marker: string): Promise<string> {
  const until = Date.now() + 15_000;
  while (!read().includes(marker)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${marker} in the server log`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return read();
}

/** The log written after `marker` (the log is read once the next marker is in it). */
async function logSince(url: string, read: () => string, marker: string): Promise<string> {
  const end = await mark(url);
  const all = await waitForLog(read, end);
  return all.slice(all.indexOf(marker));
}

/**
 * Stand-ins of the part of Citus the kit uses, created in template1 (so in every database made
 * after): its catalog tables (pg_dist_partition, pg_dist_schema, pg_dist_authinfo, in pg_catalog
 * as Citus's are), its functions with their names and argument names, each checking what Citus
 * checks before it records the call, and the extension's pg_extension row.
 */
const CITUS_STANDIN = `
  SET allow_system_table_mods = on;
  CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass NOT NULL, partmethod "char" NOT NULL, partkey text,
    colocated_with text, seq serial);
  CREATE TABLE pg_catalog.pg_dist_schema (schemaid regnamespace NOT NULL, colocationid int);
  CREATE TABLE pg_catalog.pg_dist_authinfo (nodeid int NOT NULL, rolename name NOT NULL, authinfo text NOT NULL);
  CREATE FUNCTION pg_catalog.create_distributed_table(table_name regclass, distribution_column text,
      distribution_type text DEFAULT 'hash', colocate_with text DEFAULT 'default', shard_count int DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql AS $f$
    DECLARE missing text;
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = table_name) THEN
        RAISE EXCEPTION 'table % is already distributed', table_name;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = table_name AND attname = distribution_column AND NOT attisdropped) THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', distribution_column, table_name;
      END IF;
      IF colocate_with NOT IN ('default', 'none') AND NOT EXISTS (
          SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = colocate_with::regclass AND partmethod = 'h') THEN
        RAISE EXCEPTION 'cannot colocate tables: % is not a distributed table', colocate_with;
      END IF;
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_schema WHERE schemaid = (SELECT relnamespace FROM pg_class WHERE oid = table_name)) THEN
        RAISE EXCEPTION 'table % is in a distributed schema', table_name;
      END IF;
      SELECT string_agg(k.confrelid::regclass::text, ', ') INTO missing FROM pg_constraint k
       WHERE k.conrelid = table_name AND k.contype = 'f' AND k.confrelid <> table_name
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = k.confrelid);
      IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'cannot create foreign key constraint since relations are not colocated or not referencing a reference table (%)', missing;
      END IF;
      INSERT INTO pg_catalog.pg_dist_partition (logicalrelid, partmethod, partkey, colocated_with)
        VALUES (table_name, 'h', distribution_column, colocate_with);
    END $f$;
  CREATE FUNCTION pg_catalog.create_reference_table(table_name regclass) RETURNS void LANGUAGE plpgsql AS $f$
    BEGIN
      INSERT INTO pg_catalog.pg_dist_partition (logicalrelid, partmethod) VALUES (table_name, 'n');
    END $f$;
  CREATE FUNCTION pg_catalog.citus_schema_distribute(schemaname regnamespace) RETURNS void LANGUAGE plpgsql AS $f$
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid WHERE c.relnamespace = schemaname) THEN
        RAISE EXCEPTION 'distributed schema cannot have distributed tables';
      END IF;
      IF EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = schemaname AND c.relkind IN ('r', 'p')
                  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)) THEN
        RAISE EXCEPTION 'must be owner of the tables of schema %', schemaname;
      END IF;
      INSERT INTO pg_catalog.pg_dist_schema (schemaid) VALUES (schemaname);
    END $f$;
  INSERT INTO pg_catalog.pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
    VALUES ((SELECT max(oid)::int8 + 1 FROM pg_catalog.pg_extension)::oid, 'citus', 10, 'pg_catalog'::regnamespace, false, '13.2');
`;

describe('Citus mode on plain PostgreSQL, from the statement log', () => {
  let logged: StatementLogServer;
  let server: StatementLogServer['server'];
  const read = () => logged.log();
  const savedUrl = process.env.TEST_DATABASE_URL;

  beforeAll(async () => {
    logged = await startStatementLogServer('nt-citus');
    server = logged.server;
    process.env.TEST_DATABASE_URL = server.url;
  });

  afterAll(async () => {
    await logged?.stop();
    process.env.TEST_DATABASE_URL = savedUrl;
  });

  describe('plain PostgreSQL: the tenant_id predicate', () => {
    let t: TestApp;
    const TENANTS = { 'pl-sh-a': 'shared', 'pl-sh-b': 'shared', 'pl-sc': 'schema', 'pl-db': 'database' } as const;

    beforeAll(async () => {
      t = await startTestApp({
        tenants: Object.entries(TENANTS).map(([id, strategy]) => ({ id, name: id, strategy })),
      });
    });

    afterAll(async () => {
      await t?.close();
    });

    it('every tenant query of the reference API carries its tenant predicate; the creator is joined on (tenant_id, created_by_id)', async () => {
      const from = await mark(server.url);
      const api = (tenant: string) => ({ 'X-Tenant-ID': tenant });
      for (const tenant of Object.keys(TENANTS)) {
        const user = await request(t.http)
          .post('/users')
          .set(api(tenant))
          .send({ email: `u@${tenant}.test`, name: tenant });
        assert.equal(user.status, 201, user.text);
        const other = await request(t.http)
          .post('/users')
          .set(api(tenant))
          .send({ email: `v@${tenant}.test`, name: tenant });
        assert.equal(other.status, 201, other.text);
        const project = await request(t.http).post('/projects').set(api(tenant)).send({ name: 'p', createdById: user.body.id });
        assert.equal(project.status, 201, project.text);
        assert.equal(project.body.createdBy.id, user.body.id);
        const calls: [string, string, object?][] = [
          ['get', '/users?limit=10'],
          ['get', `/users/${user.body.id}`],
          ['patch', `/users/${user.body.id}`, { name: 'renamed' }],
          ['get', '/projects?limit=10'],
          ['get', `/projects?createdById=${user.body.id}`],
          ['get', `/projects/${project.body.id}`],
          ['patch', `/projects/${project.body.id}`, { name: 'q' }],
          ['delete', `/projects/${project.body.id}`],
          ['delete', `/users/${other.body.id}`],
        ];
        for (const [method, path, body] of calls) {
          const res = await request(t.http)[method as 'get'](path).set(api(tenant)).send(body);
          assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
        }
      }
      const statements = statementsOf(await logSince(server.url, read, from), t.runtimeRole).filter(
        (s) => tenantTableRefs(s.sql).length && !/^INSERT/i.test(s.sql),
      );
      assert.deepEqual(statements.flatMap(predicateProblems), []);
      // Not vacuous: each kind of statement was seen, in every tenant (4 tenants).
      const count = (re: RegExp) => statements.filter((s) => re.test(s.sql)).length;
      assert.ok(count(/^SELECT[\s\S]*FROM "users"/) >= 8, 'user reads');
      assert.ok(count(/^UPDATE "users"/) >= 4, 'user updates');
      assert.ok(count(/^DELETE FROM "users"/) >= 4, 'user deletes');
      assert.ok(count(/^UPDATE "projects"/) >= 4, 'project updates');
      assert.ok(count(/^DELETE FROM "projects"/) >= 4, 'project deletes');
      const joins = statements.filter((s) => /FROM "projects"[\s\S]*JOIN "users"/.test(s.sql));
      assert.ok(joins.length >= 16, `project reads with their creator: ${joins.length}`);
      for (const s of joins) {
        const on = /JOIN "users" "([^"]+)" ON ([\s\S]*?)(?: WHERE | LEFT JOIN | ORDER BY |$)/.exec(s.sql);
        assert.ok(on, s.sql);
        const [, u, condition] = on;
        assert.match(condition, new RegExp(`"${u}"\\."tenant_id"\\s*=\\s*"[^"]+"\\."tenant_id"`), `joined on tenant_id: ${s.sql}`);
        assert.match(condition, new RegExp(`"${u}"\\."id"\\s*=\\s*"[^"]+"\\."created_by_id"`), `joined on created_by_id: ${s.sql}`);
        assert.ok(condition.includes(`"${u}"."tenant_id" = '${s.tenant}'`), `the joined table is pinned to the tenant: ${s.sql}`);
      }
    });

    it('the tenant repository, EntityManager and DataSource paths carry it too, findOne with a relation included', async () => {
      const tenancy = t.app.get(TenancyService);
      const data = t.app.get(TenantDataSource);
      const projects = t.app.get<Repository<Project>>(getTenantRepositoryToken(Project));
      const users = t.app.get<Repository<User>>(getTenantRepositoryToken(User));
      const from = await mark(server.url);
      for (const tenant of ['pl-sh-a', 'pl-sc', 'pl-db']) {
        await tenancy.run(tenant, async () => {
          // The email is encrypted: found through its blind index, as the reference app looks one up.
          const [creator] = await users.findBy({ emailIndex: blindIndex(User, 'email', `u@${tenant}.test`) });
          assert.ok(creator, tenant);
          assert.equal(creator.tenantId, tenant, 'tenant_id is mapped');
          await projects.insert({ id: randomUUID(), name: 'repo', createdById: creator.id });
          const found = await projects.findOne({ where: { name: 'repo' }, relations: { createdBy: true } });
          assert.equal(found?.createdBy?.id, creator.id);
          assert.equal(await projects.count({ where: { createdById: creator.id } }), 1);
          assert.equal(await users.exists({ where: { id: creator.id } }), true);
          const saved = await projects.save({ ...found!, description: 'saved' });
          assert.equal(saved.description, 'saved');
          const viaManager = await data.manager.find(Project, { relations: { createdBy: true }, take: 5 });
          assert.equal(viaManager.length, 1);
          const viaBuilder = await data.createQueryBuilder(User, 'x').where('x.id = :id', { id: creator.id }).getCount();
          assert.equal(viaBuilder, 1);
          assert.equal((await projects.update({ name: 'repo' }, { name: 'repo2' })).affected, 1);
          assert.equal((await projects.delete({ name: 'repo2' })).affected, 1);
        });
      }
      const statements = statementsOf(await logSince(server.url, read, from), t.runtimeRole).filter(
        (s) => tenantTableRefs(s.sql).length && !/^INSERT/i.test(s.sql),
      );
      assert.deepEqual(statements.flatMap(predicateProblems), []);
      // findOne with a relation: TypeORM's DISTINCT pass and its second query, both pinned.
      assert.ok(statements.filter((s) => /SELECT DISTINCT "distinctAlias"/.test(s.sql)).length >= 3, 'the DISTINCT pass of findOne');
      assert.ok(statements.filter((s) => /^SELECT COUNT\(/.test(s.sql)).length >= 6, 'count and getCount');
    });

    it('raw SQL through the tenant DataSource has no predicate and still sees only its tenant (RLS)', async () => {
      const tenancy = t.app.get(TenancyService);
      const data = t.app.get(TenantDataSource);
      const from = await mark(server.url);
      for (const tenant of ['pl-sh-a', 'pl-sh-b']) {
        const rows: { tenant_id: string }[] = await tenancy.run(tenant, () => data.query(`SELECT tenant_id FROM users`));
        assert.ok(rows.length >= 1, tenant);
        assert.deepEqual([...new Set(rows.map((r) => r.tenant_id))], [tenant]);
      }
      const raw = statementsOf(await logSince(server.url, read, from), t.runtimeRole).filter(
        (s) => s.sql === 'SELECT tenant_id FROM users',
      );
      assert.equal(raw.length, 2, 'the raw query reached the server as written, without a predicate');
    });

    it('tenantPredicate off: the same reads run without it (what the bench compares)', async () => {
      const off = await startTestApp({
        tenants: [{ id: 'pl-off', name: 'pl-off', strategy: 'shared' }],
        env: { TENANCY_TENANT_PREDICATE: 'off' },
      });
      try {
        const from = await mark(server.url);
        const res = await request(off.http).get('/users?limit=5').set({ 'X-Tenant-ID': 'pl-off' });
        assert.equal(res.status, 200, res.text);
        const reads = statementsOf(await logSince(server.url, read, from), off.runtimeRole).filter((s) => tenantTableRefs(s.sql).length);
        assert.equal(reads.length, 1);
        assert.doesNotMatch(reads[0].sql, /tenant_id" = '/);
      } finally {
        await off.close();
        // startTestApp leaves its environment in process.env: the apps after this one keep the default.
        delete process.env.TENANCY_TENANT_PREDICATE;
      }
    });
  });

  describe('Citus mode (detected from the extension): what would reach the workers', () => {
    let t: TestApp;
    const TENANTS = { 'ci-sh-a': 'shared', 'ci-sh-b': 'shared', 'ci-sc': 'schema', 'ci-mv': 'shared' } as const;
    let startLog = '';

    beforeAll(async () => {
      const c = new Client({ connectionString: server.url.replace(/\/postgres$/, '/template1') });
      await c.connect();
      await c.query(CITUS_STANDIN);
      await c.end();
      const from = await mark(server.url);
      t = await startTestApp({ tenants: Object.entries(TENANTS).map(([id, strategy]) => ({ id, name: id, strategy })) });
      startLog = await logSince(server.url, read, from);
    });

    afterAll(async () => {
      await t?.close();
    });

    const owner = <T>(fn: (c: Client) => Promise<T>): Promise<T> => withOwnerClient(t.controlDatabase, fn);

    it('distributes the shared tables by tenant_id, co-located, the referenced table first; the kit tables stay local', async () => {
      const rows = await owner((c) =>
        c.query(`SELECT logicalrelid::text AS t, partmethod::text AS m, partkey, colocated_with FROM pg_dist_partition ORDER BY seq`),
      );
      assert.deepEqual(rows.rows, [
        { t: 'tenancy_shared.users', m: 'h', partkey: 'tenant_id', colocated_with: 'default' },
        { t: 'tenancy_shared.projects', m: 'h', partkey: 'tenant_id', colocated_with: '"tenancy_shared"."users"' },
      ]);
      const schemas = await owner((c) => c.query(`SELECT schemaid::text AS s FROM pg_dist_schema`));
      assert.deepEqual(
        schemas.rows.map((r) => r.s),
        [t.app.get(TenantNaming).schemaFor('ci-sc')],
        'the schema tenant (only) is a distributed schema',
      );
      assert.match(startLog, /SELECT citus_schema_distribute\(\$1::regnamespace\)/);
    });

    it("stores the runtime role's password for the workers in pg_dist_authinfo", async () => {
      const [auth] = (await owner((c) => c.query(`SELECT nodeid, rolename::text, authinfo FROM pg_dist_authinfo`))).rows;
      const [stored] = (
        await owner((c) => c.query(`SELECT value FROM tenancy.settings WHERE key = $1`, [`runtime_password:${t.runtimeRole}`]))
      ).rows;
      assert.deepEqual(auth, { nodeid: 0, rolename: t.runtimeRole, authinfo: `password='${stored.value}'` });
    });

    it('never runs CREATE SCHEMA for a schema that exists; creates new ones with schema-based sharding off', async () => {
      const owned = parseLog(startLog).filter((r) => r.level === 'LOG' && r.user === 'postgres');
      assert.doesNotMatch(startLog, /CREATE SCHEMA IF NOT EXISTS/);
      const creates = owned.filter((r) => /CREATE SCHEMA/.test(r.text));
      assert.ok(creates.length >= 3, 'the control, shared and tenant schemas were created');
      for (const create of creates) {
        const before = owned.filter(
          (r) => r.session === create.session && r.vxid === create.vxid && owned.indexOf(r) < owned.indexOf(create),
        );
        assert.ok(
          before.some((r) => /SET LOCAL citus\.enable_schema_based_sharding TO off/.test(r.text)),
          `schema-based sharding off before: ${create.text}`,
        );
      }
      // A second instance starts on the same databases: nothing is created again.
      const from = await mark(server.url);
      const second = await startTestApp({ join: t });
      await second.close();
      const again = await logSince(server.url, read, from);
      assert.doesNotMatch(again, /CREATE SCHEMA/);
      assert.doesNotMatch(again, /create_distributed_table|citus_schema_distribute/);
    });

    it('opens every transaction with BEGIN alone, then SET LOCAL propagation and tenant, each a statement of its own', async () => {
      const tenancy = t.app.get(TenancyService);
      const data = t.app.get(TenantDataSource);
      const from = await mark(server.url);
      for (const tenant of ['ci-sh-a', 'ci-sc']) {
        const user = await request(t.http)
          .post('/users')
          .set({ 'X-Tenant-ID': tenant })
          .send({ email: `u@${tenant}.test`, name: 'u' });
        assert.equal(user.status, 201, user.text);
        const project = await request(t.http)
          .post('/projects')
          .set({ 'X-Tenant-ID': tenant })
          .send({ name: 'p', createdById: user.body.id });
        assert.equal(project.status, 201, project.text);
        const got = await request(t.http).get(`/projects/${project.body.id}`).set({ 'X-Tenant-ID': tenant });
        assert.equal(got.body.createdBy.id, user.body.id);
        // A first query that may hold several statements takes the other path: BEGIN and the settings alone first.
        await tenancy.run(tenant, () => data.query(`SELECT 1 AS one; SELECT 2 AS two`));
      }
      const statements = statementsOf(await logSince(server.url, read, from), t.runtimeRole);
      const problems: string[] = [];
      let transactions = 0;
      statements.forEach((s, i) => {
        if (/\bBEGIN\b/i.test(s.sql) && s.sql !== 'BEGIN') problems.push(`BEGIN with another statement: ${s.sql}`);
        if (s.sql !== 'BEGIN') return;
        transactions++;
        const next = statements.filter((x, j) => j > i && x.session === s.session).slice(0, 3);
        if (next[0]?.sql !== `SET LOCAL citus.propagate_set_commands = 'local'`) problems.push(`after BEGIN: ${next[0]?.sql}`);
        if (!/^SET LOCAL app\.tenant_id = '(ci-sh-a|ci-sc)'$/.test(next[1]?.sql ?? '')) problems.push(`then: ${next[1]?.sql}`);
        if (!/^SELECT set_config\(/.test(next[2]?.sql ?? '')) problems.push(`then the settings' SELECT: ${next[2]?.sql}`);
        if (next.some((x) => x.vxid !== s.vxid)) problems.push(`the preamble left the transaction of BEGIN (${s.session})`);
      });
      assert.deepEqual(problems, []);
      assert.ok(transactions >= 8, `transactions seen: ${transactions}`);
      const tenantQueries = statements.filter((s) => tenantTableRefs(s.sql).length && !/^INSERT/i.test(s.sql));
      assert.ok(tenantQueries.length >= 4);
      assert.deepEqual(tenantQueries.flatMap(predicateProblems), []);
    });

    it('moves, exports and deletes a tenant, the owner setting the tenant with SET LOCAL; the new schema is distributed', async () => {
      const api = { 'X-Tenant-ID': 'ci-mv' };
      const user = await request(t.http).post('/users').set(api).send({ email: 'm@ci-mv.test', name: 'm' });
      assert.equal(user.status, 201, user.text);
      const from = await mark(server.url);
      await t.app.get(TenantMover).move('ci-mv', { strategy: 'schema' });
      const moved = await request(t.http).get(`/users/${user.body.id}`).set(api);
      assert.equal(moved.status, 200, moved.text);
      const naming = t.app.get(TenantNaming);
      const schemas = await owner((c) => c.query(`SELECT schemaid::text AS s FROM pg_dist_schema ORDER BY 1`));
      assert.deepEqual(schemas.rows.map((r) => r.s).sort(), [naming.schemaFor('ci-mv'), naming.schemaFor('ci-sc')].sort());
      const lines: string[] = [];
      const catalog = t.app.get(TenantCatalog);
      for await (const line of t.app.get(TenantExporter).export(catalog.get('ci-mv')!)) lines.push(line);
      assert.ok(
        lines.some((l) => l.includes(user.body.id)),
        'the export holds the user',
      );
      await t.app.get(TenantLifecycle).remove('ci-mv', { force: true });
      const ownerStatements = parseLog(await logSince(server.url, read, from)).filter((r) => r.user === 'postgres' && r.level === 'LOG');
      const setLocal = ownerStatements.filter((r) => /SET LOCAL app\.tenant_id = 'ci-mv'/.test(r.text));
      // Both sides of the move, the fences, the export and the delete.
      assert.ok(setLocal.length >= 4, `owner transactions with SET LOCAL app.tenant_id: ${setLocal.length}`);
      for (const r of setLocal) {
        const propagate = ownerStatements.find(
          (x) => x.session === r.session && x.vxid === r.vxid && /SET LOCAL citus\.propagate_set_commands = 'local'/.test(x.text),
        );
        assert.ok(propagate, `propagation on in the transaction of ${r.text}`);
      }
      assert.ok(ownerStatements.some((r) => /citus_schema_distribute/.test(r.text)));
    });
  });
});
