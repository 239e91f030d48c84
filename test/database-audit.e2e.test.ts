// An audit of what the service leaves in PostgreSQL after it starts with tenants of all three models,
// read from the catalogs through owner connections (and, where a privilege is in question, by trying
// it as the runtime role). Each check names the rule of DESIGN.md ("Database rules") it enforces.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import { TenancyService, TenantCatalog, TenantDataSource } from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { quoteIdent } from '../libs/tenancy/src/core/sql';
import type { TenantLocation } from '../libs/tenancy/src';
import { HomeDataSource } from '../libs/tenancy/src/pools/home-data-source';
import { startTestApp, TestApp } from './support/test-app';
import { testServerUrl, urlFor, withOwnerClient } from './support/test-database';

const TENANTS = [
  { id: 'aud-s1', strategy: 'shared' },
  { id: 'aud-s2', strategy: 'shared' },
  { id: 'aud-c1', strategy: 'schema' },
  { id: 'aud-c2', strategy: 'schema' },
  { id: 'aud-d1', strategy: 'database' },
  { id: 'aud-d2', strategy: 'database' },
] as const;
const TABLES = ['users', 'projects'] as const;
const CONTROL_SCHEMA = 'tenancy';
const SHARED_SCHEMA = 'tenancy_shared';

describe('database audit after a start with tenants of all three models', () => {
  let t: TestApp;
  /** Where each tenant's rows live, as the library computes it. */
  const location = new Map<string, TenantLocation>();
  /** Every distinct (database, schema) holding tenant-owned tables. */
  const places: { database: string; schema: string }[] = [];
  let tenantDatabases: string[] = [];
  let runtimePassword: string;

  /** A fresh session as the runtime role, outside the service (no pool, no unit of work). */
  async function withRuntimeClient<T>(database: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const u = new URL(urlFor(database));
    u.username = t.runtimeRole;
    u.password = runtimePassword;
    const client = new Client({ connectionString: u.toString() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  async function errorCode(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (err) {
      return (err as { code?: string }).code ?? 'no code';
    }
    return 'no error';
  }

  beforeAll(async () => {
    t = await startTestApp({ tenants: TENANTS.map((x) => ({ id: x.id, name: x.id, strategy: x.strategy })) });
    const catalog = t.app.get(TenantCatalog);
    const strategies = t.app.get(IsolationStrategies);
    for (const { id } of TENANTS) {
      const record = catalog.get(id)!;
      location.set(id, strategies.for(record.strategy).location(record));
    }
    const seen = new Set<string>();
    for (const loc of location.values()) {
      const key = `${loc.database}/${loc.schema}`;
      if (!seen.has(key)) places.push({ database: loc.database, schema: loc.schema });
      seen.add(key);
    }
    tenantDatabases = TENANTS.filter((x) => x.strategy === 'database').map((x) => location.get(x.id)!.database);
    // Sanity of the set-up itself: 1 shared schema + 2 tenant schemas + 2 tenant databases.
    assert.equal(places.length, 5);
    assert.equal(new Set(tenantDatabases).size, 2);
    assert.ok(tenantDatabases.every((d) => d !== t.controlDatabase));

    // One user and one project per tenant, through the API, tagged with the tenant id.
    for (const { id } of TENANTS) {
      const user = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', id)
        .send({ email: `audit@${id}.test`, name: 'Auditor' });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const project = await request(t.http)
        .post('/projects')
        .set('X-Tenant-ID', id)
        .send({ name: `ledger-${id}`, createdById: user.body.id });
      assert.equal(project.status, 201, JSON.stringify(project.body));
    }
    runtimePassword = await withOwnerClient(t.controlDatabase, async (c) => {
      const { rows } = await c.query(`SELECT value FROM ${CONTROL_SCHEMA}.settings WHERE key = $1`, [`runtime_password:${t.runtimeRole}`]);
      assert.equal(rows.length, 1, 'the runtime password is where the service keeps it');
      return rows[0].value as string;
    });
  });
  afterAll(async () => t?.close());

  it('the runtime role is a plain login role: not superuser, NOBYPASSRLS, NOCREATEROLE, NOCREATEDB, member of no role', async () => {
    await withOwnerClient(undefined, async (c) => {
      const { rows } = await c.query(
        `SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin, rolinherit,
                (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS memberships
           FROM pg_roles r WHERE rolname = $1`,
        [t.runtimeRole],
      );
      assert.equal(rows.length, 1);
      const r = rows[0];
      assert.equal(r.rolsuper, false);
      assert.equal(r.rolbypassrls, false);
      assert.equal(r.rolcreaterole, false);
      assert.equal(r.rolcreatedb, false);
      assert.equal(r.rolreplication, false);
      assert.equal(r.rolcanlogin, true);
      // A membership (in the owner, or pg_read_all_data...) would let it SET ROLE around RLS.
      assert.equal(r.memberships, 0);
    });
  });

  it('the runtime role owns nothing (no table, schema, function or database), in every database', async () => {
    await withOwnerClient(undefined, async (c) => {
      const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [
        t.runtimeRole,
      ]);
      assert.deepEqual(rows, []);
    });
    for (const database of [t.controlDatabase, ...tenantDatabases]) {
      await withOwnerClient(database, async (c) => {
        const { rows } = await c.query(
          `WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
           SELECT 'table ' || c.oid::regclass AS what FROM pg_class c, r WHERE c.relowner = r.oid
           UNION ALL SELECT 'schema ' || nspname FROM pg_namespace n, r WHERE n.nspowner = r.oid
           UNION ALL SELECT 'function ' || p.oid::regprocedure FROM pg_proc p, r WHERE p.proowner = r.oid`,
          [t.runtimeRole],
        );
        assert.deepEqual(rows, [], `${database}: ${JSON.stringify(rows)}`);
        // The tenant tables exist here and belong to someone else (the owner).
        const { rows: owners } = await c.query(
          `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = ANY($1) AND relkind = 'r'`,
          [TABLES],
        );
        assert.ok(owners.length >= 1);
        assert.ok(owners.every((o) => o.owner !== t.runtimeRole));
      });
    }
  });

  it('users and projects, in the shared schema, each tenant schema and each tenant database: RLS enabled and forced, with USING and WITH CHECK on app.tenant_id', async () => {
    for (const { database, schema } of places) {
      await withOwnerClient(database, async (c) => {
        for (const table of TABLES) {
          const where = `${database}/${schema}.${table}`;
          const {
            rows: [rel],
          } = await c.query(
            `SELECT c.oid, relrowsecurity, relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE nspname = $1 AND relname = $2 AND relkind = 'r'`,
            [schema, table],
          );
          assert.ok(rel, `${where} is missing`);
          assert.equal(rel.relrowsecurity, true, `${where}: RLS not enabled`);
          assert.equal(rel.relforcerowsecurity, true, `${where}: RLS not forced`);
          const { rows: policies } = await c.query(
            `SELECT polname, polcmd, polpermissive, pg_get_expr(polqual, polrelid) AS using, pg_get_expr(polwithcheck, polrelid) AS check
               FROM pg_policy WHERE polrelid = $1`,
            [rel.oid],
          );
          assert.ok(policies.length >= 1, `${where}: no policy`);
          // Permissive policies are OR-ed: a single one without the tenant test would open the table.
          for (const p of policies.filter((x) => x.polpermissive)) {
            assert.equal(p.polcmd, '*', `${where}.${p.polname} covers only some commands`);
            assert.match(p.using ?? '', /current_setting\('app\.tenant_id'::text, true\)/, `${where}.${p.polname} USING`);
            assert.match(p.check ?? '', /current_setting\('app\.tenant_id'::text, true\)/, `${where}.${p.polname} WITH CHECK`);
            // An empty setting (what a pooled connection reads after a transaction) must match nothing.
            assert.match(p.using, /nullif/i);
            assert.match(p.check, /nullif/i);
            assert.match(p.using, /tenant_id =/);
            assert.match(p.check, /tenant_id =/);
          }
          // tenant_id is NOT NULL and defaults to the transaction's tenant.
          const {
            rows: [col],
          } = await c.query(
            `SELECT attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1 AND a.attname = 'tenant_id' AND NOT a.attisdropped`,
            [rel.oid],
          );
          assert.ok(col, `${where}: no tenant_id column`);
          assert.equal(col.attnotnull, true);
          assert.match(col.def ?? '', /current_setting\('app\.tenant_id'::text\)/);
        }
      });
    }
  });

  it('keys lead with tenant_id: primary keys are (tenant_id, id), every unique (and other) index starts with tenant_id, projects→users is (tenant_id, created_by_id)', async () => {
    for (const { database, schema } of places) {
      await withOwnerClient(database, async (c) => {
        const cols = (relid: string, keys: number[]) =>
          c
            .query(
              `SELECT attname FROM unnest($2::int2[]) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = $1 AND attnum = k.n ORDER BY i`,
              [relid, keys],
            )
            .then((r) => r.rows.map((x) => x.attname));
        const oid = async (table: string) =>
          (await c.query(`SELECT to_regclass($1)::oid AS oid`, [`${quoteIdent(schema)}.${table}`])).rows[0].oid as string;
        for (const table of TABLES) {
          const where = `${database}/${schema}.${table}`;
          const relid = await oid(table);
          const {
            rows: [pk],
          } = await c.query(`SELECT conkey FROM pg_constraint WHERE conrelid = $1 AND contype = 'p'`, [relid]);
          assert.ok(pk, `${where}: no primary key`);
          assert.deepEqual(await cols(relid, pk.conkey), ['tenant_id', 'id'], `${where}: primary key`);
          const { rows: indexes } = await c.query(
            `SELECT indexrelid::regclass::text AS name, indisunique, indkey::int2[] AS keys FROM pg_index WHERE indrelid = $1`,
            [relid],
          );
          assert.ok(indexes.filter((i) => i.indisunique).length >= 1);
          for (const index of indexes) {
            // indkey 0 is an expression: it would not lead with the column either.
            assert.equal(
              index.keys[0] === 0 ? '(expression)' : (await cols(relid, [index.keys[0]]))[0],
              'tenant_id',
              `${where}: index ${index.name}`,
            );
          }
        }
        const { rows: fks } = await c.query(
          `SELECT conkey, confkey, confrelid::regclass::text AS target, confrelid FROM pg_constraint WHERE conrelid = $1 AND contype = 'f'`,
          [await oid('projects')],
        );
        assert.equal(fks.length, 1, `${database}/${schema}.projects: foreign keys`);
        const [fk] = fks;
        assert.equal(String(fk.confrelid), String(await oid('users')), `${database}/${schema}: the foreign key points into its own schema`);
        assert.deepEqual(await cols(await oid('projects'), fk.conkey), ['tenant_id', 'created_by_id']);
        assert.deepEqual(await cols(fk.confrelid, fk.confkey), ['tenant_id', 'id']);
      });
    }
  });

  it('the runtime role may only SELECT, INSERT, UPDATE and DELETE tenant tables; anything else it can touch is under forced RLS', async () => {
    for (const { database, schema } of places) {
      await withOwnerClient(database, async (c) => {
        for (const table of TABLES) {
          const rel = `${quoteIdent(schema)}.${table}`;
          const {
            rows: [p],
          } = await c.query(
            `SELECT ${['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
              .map((priv) => `has_table_privilege($1, $2, '${priv}') AS "${priv}"`)
              .join(', ')}`,
            [t.runtimeRole, rel],
          );
          // DML is what the service needs; TRUNCATE ignores RLS and would empty every tenant at once.
          assert.deepEqual(
            p,
            { SELECT: true, INSERT: true, UPDATE: true, DELETE: true, TRUNCATE: false, REFERENCES: false, TRIGGER: false },
            rel,
          );
        }
        // Whatever else lives in the schema (a migration ledger...): unreachable, or guarded like the tenant tables.
        const { rows } = await c.query(
          `SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE nspname = $2 AND relkind IN ('r', 'p', 'v', 'm')
              AND has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
              AND NOT (relrowsecurity AND relforcerowsecurity)`,
          [t.runtimeRole, schema],
        );
        assert.deepEqual(rows, [], `${database}/${schema}: reachable without RLS`);
        // No CREATE anywhere: it cannot plant tables, functions or schemas of its own.
        const { rows: creatable } = await c.query(
          `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'
              AND has_schema_privilege($1, oid, 'CREATE')`,
          [t.runtimeRole],
        );
        assert.deepEqual(creatable, [], `${database}: CREATE on a schema`);
        const {
          rows: [db],
        } = await c.query(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS create`, [t.runtimeRole]);
        assert.equal(db.create, false, `${database}: CREATE on the database`);
      });
    }
  });

  it('the runtime role has no privilege on the control schema: reading the catalog or the settings as it fails', async () => {
    await withOwnerClient(t.controlDatabase, async (c) => {
      const {
        rows: [s],
      } = await c.query(`SELECT has_schema_privilege($1, $2, 'USAGE') AS usage, has_schema_privilege($1, $2, 'CREATE') AS create`, [
        t.runtimeRole,
        CONTROL_SCHEMA,
      ]);
      assert.deepEqual(s, { usage: false, create: false });
      const { rows: tables } = await c.query(
        `SELECT c.oid::regclass::text AS name, has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS any
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = $2 AND relkind = 'r'`,
        [t.runtimeRole, CONTROL_SCHEMA],
      );
      assert.ok(tables.some((x) => x.name.endsWith('.tenants')) && tables.some((x) => x.name.endsWith('.settings')));
      assert.deepEqual(
        tables.filter((x) => x.any),
        [],
      );
    });
    // Tried for real: through the service's own runtime pool and through a fresh runtime session.
    const home = t.app.get(HomeDataSource).dataSource;
    for (const table of ['tenants', 'settings']) {
      assert.equal(await errorCode(home.query(`SELECT * FROM ${CONTROL_SCHEMA}.${table}`)), '42501');
    }
    await withRuntimeClient(t.controlDatabase, async (c) => {
      assert.equal(await errorCode(c.query(`SELECT * FROM ${CONTROL_SCHEMA}.tenants`)), '42501');
      assert.equal(await errorCode(c.query(`SELECT value FROM ${CONTROL_SCHEMA}.settings`)), '42501');
      assert.equal(await errorCode(c.query(`UPDATE ${CONTROL_SCHEMA}.tenants SET status = 'active'`)), '42501');
    });
  });

  it('PUBLIC cannot CONNECT to a tenant database or the control database (only the owner and the runtime role can)', async () => {
    await withOwnerClient(undefined, async (c) => {
      for (const database of tenantDatabases) {
        const {
          rows: [r],
        } = await c.query(
          `SELECT has_database_privilege('public', $1, 'CONNECT') AS public_connect,
                  has_database_privilege($2, $1, 'CONNECT') AS runtime_connect,
                  EXISTS (SELECT 1 FROM pg_database, aclexplode(datacl) a WHERE datname = $1 AND a.grantee = 0) AS public_in_acl
             FROM pg_database WHERE datname = $1`,
          [database, t.runtimeRole],
        );
        assert.deepEqual(r, { public_connect: false, runtime_connect: true, public_in_acl: false }, database);
      }
    });
    // Tried for real with a throwaway login role: it signs in to the server's maintenance database,
    // but neither to the control database (restrictControlDatabase) nor to a tenant's.
    const probe = `nt_probe_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await withOwnerClient(undefined, (c) => c.query(`CREATE ROLE ${quoteIdent(probe)} LOGIN PASSWORD '${password}'`));
    try {
      const connect = async (database: string) => {
        const u = new URL(urlFor(database, testServerUrl()));
        u.username = probe;
        u.password = password;
        const client = new Client({ connectionString: u.toString() });
        try {
          await client.connect();
          await client.query('SELECT 1');
          return 'connected';
        } catch (err) {
          return (err as { code?: string }).code ?? 'no code';
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      assert.equal(await connect('postgres'), 'connected');
      assert.equal(await connect(t.controlDatabase), '42501');
      for (const database of tenantDatabases) assert.equal(await connect(database), '42501', database);
    } finally {
      await withOwnerClient(undefined, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(probe)}`));
    }
  });

  it('a tenant’s rows live only where its model says', async () => {
    const rowsAt = (database: string, schema: string, table: string) =>
      withOwnerClient(database, async (c) => {
        await c.query('SET row_security = off'); // an owner that cannot bypass RLS fails here, loudly
        const { rows } = await c.query(`SELECT DISTINCT tenant_id FROM ${quoteIdent(schema)}.${table} ORDER BY 1`);
        return rows.map((r) => r.tenant_id as string);
      });
    for (const table of TABLES) {
      // The shared tables hold exactly the shared-model tenants.
      assert.deepEqual(await rowsAt(t.controlDatabase, SHARED_SCHEMA, table), ['aud-s1', 'aud-s2'], `${SHARED_SCHEMA}.${table}`);
      // Each schema and each database holds exactly its one tenant.
      for (const { id, strategy } of TENANTS.filter((x) => x.strategy !== 'shared')) {
        const loc = location.get(id)!;
        assert.equal(loc.database === t.controlDatabase, strategy === 'schema');
        assert.deepEqual(await rowsAt(loc.database, loc.schema, table), [id], `${id}: ${loc.database}/${loc.schema}.${table}`);
      }
    }
    await withOwnerClient(t.controlDatabase, async (c) => {
      // The home database has schemas for the schema-model tenants only, and no stray public tables.
      const { rows } = await c.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1`);
      assert.deepEqual(
        rows.map((r) => r.nspname),
        ['tenant_aud_c1', 'tenant_aud_c2'],
      );
      const {
        rows: [p],
      } = await c.query(`SELECT to_regclass('public.users') AS users, to_regclass('public.projects') AS projects`);
      assert.deepEqual(p, { users: null, projects: null });
    });
    await withOwnerClient(undefined, async (c) => {
      // Databases exist for the database-model tenants only.
      const { rows } = await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`, [t.databasePrefix]);
      assert.deepEqual(
        rows.map((r) => r.datname),
        [...tenantDatabases].sort(),
      );
    });
    for (const database of tenantDatabases) {
      await withOwnerClient(database, async (c) => {
        // A tenant database holds no shared tables and no tenant schema.
        const { rows } = await c.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenan%' ORDER BY 1`);
        assert.deepEqual(rows, [], database);
      });
    }
  });

  it('the queries of a request run as the runtime role', async () => {
    const tenancy = t.app.get(TenancyService);
    const tds = t.app.get(TenantDataSource);
    for (const { id } of TENANTS) {
      const [r] = await tenancy.run(id, () =>
        tds.query<any[]>(
          `SELECT current_user AS cur, session_user AS ses, current_setting('is_superuser') AS su, current_database() AS db`,
        ),
      );
      assert.deepEqual(r, { cur: t.runtimeRole, ses: t.runtimeRole, su: 'off', db: location.get(id)!.database }, id);
    }
    // HTTP requests: the connections of the service's runtime pools (home and each tenant's) are
    // signed in as the runtime role. They stay open (idle) for a while after serving requests.
    for (const { id } of TENANTS) assert.equal((await request(t.http).get('/users').set('X-Tenant-ID', id)).status, 200);
    await withOwnerClient(undefined, async (c) => {
      const names = ['nest-tenancy', ...TENANTS.filter((x) => x.strategy === 'database').map((x) => `nest-tenancy:${x.id}`)];
      const { rows } = await c.query(
        `SELECT application_name AS app, usename AS who, count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = ANY($1) AND (datname = $2 OR datname = ANY($3)) GROUP BY 1, 2 ORDER BY 1, 2`,
        [names, t.controlDatabase, tenantDatabases],
      );
      assert.deepEqual(rows.map((r) => r.app).sort(), [...names].sort(), 'every runtime pool has a connection');
      assert.ok(
        rows.every((r) => r.who === t.runtimeRole),
        JSON.stringify(rows),
      );
    });
  });

  it('no role, database or server default for app.tenant_id: a fresh runtime session has no tenant and sees nothing', async () => {
    await withOwnerClient(undefined, async (c) => {
      const { rows: forRole } = await c.query(
        `SELECT setconfig FROM pg_db_role_setting WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
        [t.runtimeRole],
      );
      assert.deepEqual(forRole, [], 'ALTER ROLE ... SET on the runtime role');
      const { rows: anywhere } = await c.query(
        `SELECT setrole::regrole::text AS role, setdatabase, setconfig FROM pg_db_role_setting
          WHERE array_to_string(setconfig, ',') ~ '(^|,)(app\\.tenant_id|search_path)='`,
      );
      assert.deepEqual(anywhere, [], 'an app.tenant_id or search_path default at role or database level');
    });
    for (const { database, schema } of places) {
      const owned = await withOwnerClient(database, async (c) => {
        await c.query('SET row_security = off');
        return (await c.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.users`)).rows[0].n as number;
      });
      assert.ok(owned >= 1, `${database}/${schema} has rows (so "sees nothing" below means something)`);
      await withRuntimeClient(database, async (c) => {
        // Not even '' : nothing (server config, ALTER DATABASE/ROLE SET) gave the session a value.
        const {
          rows: [s],
        } = await c.query(`SELECT current_setting('app.tenant_id', true) AS tid`);
        assert.equal(s.tid, null);
        assert.deepEqual((await c.query(`SELECT name FROM pg_settings WHERE name LIKE 'app.%'`)).rows, []);
        // No tenant means no rows, and no write.
        assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.users`)).rows[0].n, 0);
        assert.notEqual(
          await errorCode(
            c.query(
              `INSERT INTO ${quoteIdent(schema)}.users (id, email, name) VALUES (gen_random_uuid(), 'nobody@nowhere.test', 'Nobody')`,
            ),
          ),
          'no error',
        );
        // An empty setting (what a pooled connection reads after a transaction) also matches nothing.
        await c.query(`SELECT set_config('app.tenant_id', '', false)`);
        assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.users`)).rows[0].n, 0);
      });
    }
  });
});
