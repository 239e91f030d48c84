// Two deployments on one PostgreSQL server (staging and production, two products), with the same
// tenants file and the same database prefix: each owns what it creates (named with its deployment
// key, marked with its id) and never reads, adopts, changes or drops what the other made. Also the
// readiness of a runtime role that cannot sign in, lifecycle locks out of the runtime role's reach,
// and the upgrade of a deployment made before deployment keys existed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import { DeploymentOwnershipError, TenantLifecycle, TenantProvisioner, type TenantDefinition } from '../libs/tenancy/src';
import { RuntimeRole } from '../libs/tenancy/src/catalog/runtime-role';
import { TenantMigrator } from '../libs/tenancy/src/migrations/tenant-migrator';
import { SchemaStrategy } from '../libs/tenancy/src/strategies/schema.strategy';
import { freePort } from '../src/database/embedded-postgres';
import { DEFAULT_TIERS, dropEverything, startTestApp, TestApp } from './support/test-app';
import { childProcessEnv, uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { compiledDir } from './support/compiled-dir';

const TENANTS: TenantDefinition[] = [
  { id: 'acme', name: 'Acme Corp', tier: 'enterprise' },
  { id: 'widget', name: 'Widget Inc', tier: 'pro' },
  { id: 'gadget', name: 'Gadget LLC', tier: 'free' },
];

const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

/** The runtime role's password, from the deployment's control database (only the owner can read it). */
async function runtimeCredentials(t: TestApp): Promise<{ user: string; password: string }> {
  const password = await withOwnerClient(
    t.controlDatabase,
    async (c) => (await c.query(`SELECT value FROM tenancy.settings WHERE key = $1`, [`runtime_password:${t.runtimeRole}`])).rows[0].value,
  );
  return { user: t.runtimeRole, password };
}

/** A plain client signed in as `t`'s runtime role on `database`. */
async function runtimeClient(t: TestApp, database: string): Promise<Client> {
  const { user, password } = await runtimeCredentials(t);
  const url = new URL(urlFor(database));
  url.username = user;
  url.password = password;
  const client = new Client({ connectionString: url.toString() });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const comment = (kind: 'database' | 'role', name: string) =>
  withOwnerClient(undefined, async (c) =>
    kind === 'database'
      ? (await c.query(`SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [name])).rows[0]?.mark
      : (await c.query(`SELECT shobj_description(oid, 'pg_authid') AS mark FROM pg_roles WHERE rolname = $1`, [name])).rows[0]?.mark,
  );

const databaseExists = (name: string) =>
  withOwnerClient(undefined, async (c) => (await c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rowCount === 1);

const passwordHash = (role: string) =>
  withOwnerClient(
    undefined,
    async (c) => (await c.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [role])).rows[0]?.rolpassword,
  );

/**
 * Runs the service (`node dist/src/main.js`) on a fresh control database with `env`, expecting its
 * start to fail: a separate process, as an operator would run it (a Nest app whose start failed
 * must not share a process with the suite's apps). Its control database is dropped afterwards.
 */
async function startFails(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const controlDatabase = `nt_${uniqueSuffix()}`;
  await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
  try {
    const child = spawn(process.execPath, [join(compiledDir(__dirname), '..', 'src', 'main.js')], {
      env: childProcessEnv({ ...env, DATABASE_URL: urlFor(controlDatabase), PORT: String(await freePort()), NODE_ENV: 'test' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((ok) => child.on('exit', (c) => ok(c)));
    clearTimeout(timer);
    assert.equal(code, 1, output);
    assert.doesNotMatch(output, /\n\s+at /, 'a stack trace reached the terminal');
    return { code, output };
  } finally {
    await withOwnerClient(undefined, (c) => c.query(`DROP DATABASE IF EXISTS "${controlDatabase}" WITH (FORCE)`));
  }
}

const deploymentId = (t: TestApp) =>
  withOwnerClient(
    t.controlDatabase,
    async (c) => (await c.query(`SELECT value FROM tenancy.settings WHERE key = 'deployment_id'`)).rows[0].value,
  );

describe('two deployments on one server, same tenants file, same database prefix', () => {
  const prefix = `nt${uniqueSuffix()}_`;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp({ tenants: TENANTS, env: { TENANCY_DATABASE_PREFIX: prefix }, defaultRole: true });
    b = await startTestApp({ tenants: TENANTS, env: { TENANCY_DATABASE_PREFIX: prefix }, defaultRole: true });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('names each deployment’s databases and runtime role apart, and marks them as its own', async () => {
    assert.notEqual(a.databaseStem, b.databaseStem);
    assert.ok(a.databaseStem.startsWith(prefix) && b.databaseStem.startsWith(prefix));
    assert.match(a.runtimeRole, /^tenancy_app_[a-z0-9]{1,10}$/);
    assert.notEqual(a.runtimeRole, b.runtimeRole);
    for (const t of [a, b]) {
      const id = await deploymentId(t);
      assert.match(await comment('database', `${t.databaseStem}acme`), new RegExp(`^nest-tenancy deployment ${id} `));
      assert.match(await comment('role', t.runtimeRole), new RegExp(`^nest-tenancy deployment ${id} `));
    }
  });

  it('each serves its own acme, widget and gadget: what one writes, the other never lists', async () => {
    for (const { id } of TENANTS) {
      for (const [t, who] of [
        [a, 'a'],
        [b, 'b'],
      ] as const) {
        const res = await request(t.http)
          .post('/users')
          .set(as(id))
          .send({ email: `${who}-${id}@x.test`, name: who });
        assert.equal(res.status, 201, res.text);
      }
    }
    for (const { id } of TENANTS) {
      for (const [t, who] of [
        [a, 'a'],
        [b, 'b'],
      ] as const) {
        const res = await request(t.http).get('/users').set(as(id));
        assert.equal(res.status, 200);
        assert.deepEqual(
          res.body.items.map((u: { email: string }) => u.email),
          [`${who}-${id}@x.test`],
          `${who} lists ${id}`,
        );
      }
    }
  });

  it('a runtime role cannot read the other deployment’s query text, end its backends, or connect to its tenant or control databases', async () => {
    const bSession = await runtimeClient(b, b.controlDatabase);
    const aSession = await runtimeClient(a, a.controlDatabase);
    try {
      await bSession.query(`SELECT 'b-private-query-text' AS marker`);
      const bPid = (await bSession.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
      const seen = await aSession.query(`SELECT query FROM pg_stat_activity WHERE pid = $1`, [bPid]);
      assert.equal(seen.rows.length, 1);
      assert.doesNotMatch(seen.rows[0].query ?? '', /b-private-query-text|pg_backend_pid/);
      await assert.rejects(aSession.query(`SELECT pg_terminate_backend($1)`, [bPid]), (err: { code?: string }) => err.code === '42501');
      assert.equal((await bSession.query('SELECT 1 AS one')).rows[0].one, 1, 'B’s session is alive');
      await assert.rejects(runtimeClient(a, `${b.databaseStem}acme`), (err: { code?: string }) => err.code === '42501');
      await assert.rejects(runtimeClient(b, `${a.databaseStem}acme`), (err: { code?: string }) => err.code === '42501');
      // Nor to the other's control database (its catalog: schema names, policies).
      await assert.rejects(runtimeClient(a, b.controlDatabase), (err: { code?: string }) => err.code === '42501');
      await assert.rejects(runtimeClient(b, a.controlDatabase), (err: { code?: string }) => err.code === '42501');
    } finally {
      await bSession.end();
      await aSession.end();
    }
  });

  it('another instance of B starting changes nothing of A: A’s role keeps its password and A stays ready', async () => {
    const before = await passwordHash(a.runtimeRole);
    const b2 = await startTestApp({ join: b });
    try {
      assert.equal(await passwordHash(a.runtimeRole), before);
      const ready = await request(a.http).get('/health/ready');
      assert.equal(ready.status, 200, ready.text);
      assert.equal((await request(a.http).get('/users').set(as('acme'))).status, 200);
    } finally {
      await b2.close();
    }
  });

  it('a deployment started with the other’s key refuses the other’s role and databases, changing nothing', async () => {
    const before = await passwordHash(a.runtimeRole);
    const key = a.databaseStem.slice(prefix.length, -1);
    const env = { TENANCY_CONFIG: a.tenantsFile, TENANCY_DATABASE_PREFIX: prefix, TENANCY_DEPLOYMENT_KEY: key };
    const asRole = await startFails(env);
    assert.match(
      asRole.output,
      new RegExp(`The role "${a.runtimeRole}" on server "default" exists but belongs to the nest-tenancy deployment`),
    );
    assert.equal(await passwordHash(a.runtimeRole), before, 'A’s password was not changed');
    const role = `nt_borrow_${uniqueSuffix()}`;
    try {
      const asDatabase = await startFails({ ...env, TENANCY_RUNTIME_ROLE: role });
      assert.match(
        asDatabase.output,
        new RegExp(`The database "${a.databaseStem}acme" on server "default" exists but belongs to the nest-tenancy deployment`),
      );
    } finally {
      await withOwnerClient(undefined, async (c) => {
        await c.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
        await c.query(`DROP ROLE IF EXISTS "${role}"`);
      });
    }
    assert.equal(await databaseExists(`${a.databaseStem}acme`), true);
    const res = await request(a.http).get('/users').set(as('acme'));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.items.map((u: { email: string }) => u.email),
      ['a-acme@x.test'],
      'A’s acme is untouched',
    );
  });

  it('refuses to keep using a runtime role that has members or belongs to another role (a copied mark proves nothing)', async () => {
    const helper = `nt_member_${uniqueSuffix()}`;
    const role = a.app.get(RuntimeRole) as unknown as { create(server: string): Promise<void> };
    await withOwnerClient(undefined, (c) => c.query(`CREATE ROLE "${helper}"; GRANT "${a.runtimeRole}" TO "${helper}"`));
    try {
      const before = await passwordHash(a.runtimeRole);
      await assert.rejects(
        role.create('default'),
        (err: Error) => err instanceof DeploymentOwnershipError && /has members \(nt_member_/.test(err.message),
      );
      assert.equal(await passwordHash(a.runtimeRole), before);
      await withOwnerClient(undefined, (c) =>
        c.query(`REVOKE "${a.runtimeRole}" FROM "${helper}"; GRANT pg_read_all_data TO "${a.runtimeRole}"`),
      );
      await assert.rejects(
        role.create('default'),
        (err: Error) => err instanceof DeploymentOwnershipError && /is a member of pg_read_all_data/.test(err.message),
      );
    } finally {
      await withOwnerClient(undefined, (c) => c.query(`REVOKE pg_read_all_data FROM "${a.runtimeRole}"; DROP ROLE IF EXISTS "${helper}"`));
    }
    await role.create('default');
  });

  it('deleting acme in B drops B’s database only: A goes on serving its acme', async () => {
    await b.app.get(TenantLifecycle).remove('acme', { force: true });
    assert.equal(await databaseExists(`${b.databaseStem}acme`), false);
    assert.equal(await databaseExists(`${a.databaseStem}acme`), true);
    const res = await request(a.http).get('/users').set(as('acme'));
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.items.map((u: { email: string }) => u.email),
      ['a-acme@x.test'],
    );
  });

  it('never adopts a database or schema it did not create: provisioning is refused and changes nothing', async () => {
    const rogueDb = `${a.databaseStem}rogue`;
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${rogueDb}"`));
    await withOwnerClient(a.controlDatabase, (c) => c.query(`CREATE SCHEMA tenant_rogue2; CREATE TABLE tenant_rogue2.keep (x int)`));
    const provisioner = a.app.get(TenantProvisioner);
    await assert.rejects(
      provisioner.provision({ id: 'rogue', name: 'Rogue', strategy: 'database' }),
      (err: Error) => err instanceof DeploymentOwnershipError && /database ".*rogue".*no nest-tenancy mark/.test(err.message),
    );
    await assert.rejects(
      provisioner.provision({ id: 'rogue2', name: 'Rogue 2', strategy: 'schema' }),
      (err: Error) => err instanceof DeploymentOwnershipError && /schema "tenant_rogue2".*no nest-tenancy mark/.test(err.message),
    );
    assert.equal(await comment('database', rogueDb), null, 'the rogue database was not marked');
    const left = await withOwnerClient(a.controlDatabase, async (c) => ({
      catalog: (await c.query(`SELECT id FROM tenancy.tenants WHERE id LIKE 'rogue%'`)).rows,
      keep: (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'tenant_rogue2'`)).rows[0].n,
      grants: (await c.query(`SELECT has_schema_privilege($1, 'tenant_rogue2', 'USAGE') AS usage`, [a.runtimeRole])).rows[0].usage,
    }));
    assert.deepEqual(left, { catalog: [], keep: 1, grants: false });
    assert.equal((await request(a.http).get('/users').set(as('rogue'))).status, 404);
    await withOwnerClient(undefined, (c) => c.query(`DROP DATABASE "${rogueDb}"`));
  });

  it('finishes a database its own provisioning created but died before marking (its intent row), and only that one', async () => {
    const db = `${a.databaseStem}crashed`;
    await withOwnerClient(a.controlDatabase, (c) =>
      c.query(`INSERT INTO tenancy.settings (key, value) VALUES ($1, 'x')`, [`creating-database:default:${db}`]),
    );
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${db}"`));
    await a.app.get(TenantProvisioner).provision({ id: 'crashed', name: 'Crashed', strategy: 'database' });
    assert.equal(await comment('database', db), a.deploymentMark);
    const intents = await withOwnerClient(
      a.controlDatabase,
      async (c) => (await c.query(`SELECT key FROM tenancy.settings WHERE key LIKE 'creating-database:%'`)).rows,
    );
    assert.deepEqual(intents, []);
    assert.equal((await request(a.http).post('/users').set(as('crashed')).send({ email: 'c@x.test', name: 'C' })).status, 201);
  });

  it('never migrates or drops a schema that lost its mark', async () => {
    await withOwnerClient(a.controlDatabase, (c) => c.query(`COMMENT ON SCHEMA tenant_widget IS 'someone else'`));
    try {
      const location = a.app.get(SchemaStrategy).location({ id: 'widget' });
      await assert.rejects(
        a.app.get(TenantMigrator).migrate(location, 'widget'),
        (err: Error) => err instanceof DeploymentOwnershipError && /carries the comment "someone else"/.test(err.message),
      );
      await assert.rejects(a.app.get(TenantLifecycle).remove('widget', { force: true }), DeploymentOwnershipError);
      const schema = await withOwnerClient(
        a.controlDatabase,
        async (c) => (await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_widget'`)).rowCount,
      );
      assert.equal(schema, 1, 'the schema was not dropped');
    } finally {
      const mark = await withOwnerClient(
        a.controlDatabase,
        async (c) => (await c.query(`SELECT value FROM tenancy.settings WHERE key = 'deployment_id'`)).rows[0].value,
      );
      await withOwnerClient(a.controlDatabase, (c) =>
        c.query(`COMMENT ON SCHEMA tenant_widget IS 'nest-tenancy deployment ${mark} (key ${a.databaseStem.slice(prefix.length, -1)})'`),
      );
      await withOwnerClient(a.controlDatabase, (c) => c.query(`UPDATE tenancy.tenants SET status = 'active' WHERE id = 'widget'`));
    }
  });

  it('readiness fails while the runtime role cannot sign in, naming it, and recovers', async () => {
    // Readiness answers are reused for up to 1 s: each change shows within a few seconds.
    const readyUntil = async (status: number) => {
      const until = Date.now() + 5_000;
      for (;;) {
        const res = await request(a.http).get('/health/ready');
        if (res.status === status || Date.now() > until) return res;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await withOwnerClient(undefined, (c) => c.query(`ALTER ROLE "${a.runtimeRole}" NOLOGIN`));
    try {
      const res = await readyUntil(503);
      assert.equal(res.status, 503, res.text);
      assert.ok(res.headers['retry-after']);
      assert.match(res.body.message, new RegExp(`runtime role "${a.runtimeRole}" cannot sign in`));
      assert.doesNotMatch(res.text, /password authentication|not permitted to log in|\n\s+at /);
    } finally {
      await withOwnerClient(undefined, (c) => c.query(`ALTER ROLE "${a.runtimeRole}" LOGIN`));
    }
    assert.equal((await readyUntil(200)).status, 200);
  });

  it('the runtime role can neither see nor hold a lifecycle lock: advisory locks on the old keys block no delete and no start', async () => {
    const session = await runtimeClient(a, a.controlDatabase);
    try {
      await assert.rejects(session.query(`SELECT key FROM tenancy.locks FOR UPDATE`), (err: { code?: string }) => err.code === '42501');
      await a.app.get(TenantProvisioner).provision({ id: 'victim', name: 'Victim', tier: 'free' });
      const keys = [
        'tenancy:move:victim',
        'move:victim',
        'tenancy:migrate:tenancy_shared',
        'tenancy:migrate:tenant_widget',
        'tenancy:migrate:tenancy',
      ];
      for (const key of keys) await session.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
      await a.app.get(TenantLifecycle).remove('victim', { force: true });
      assert.equal((await request(a.http).get('/users').set(as('victim'))).status, 404);
      // A second instance starts (migrating the control schema, the shared tables and every
      // tenant of the file) while the runtime role holds the migration advisory locks.
      const started = Date.now();
      const again = await startTestApp({ join: a });
      await again.close();
      assert.ok(Date.now() - started < 30_000, `the start took ${Date.now() - started} ms`);
    } finally {
      await session.end();
    }
  });
});

describe('upgrading a deployment made before deployment keys', () => {
  let t: TestApp;
  let upgraded: TestApp | undefined;

  beforeAll(async () => {
    t = await startTestApp({ tenants: TENANTS });
    for (const { id } of TENANTS) {
      const res = await request(t.http)
        .post('/users')
        .set(as(id))
        .send({ email: `old-${id}@x.test`, name: 'Old' });
      assert.equal(res.status, 201);
    }
    await t.app.close();
    // What an older version left: unkeyed database names, no marks, no deployment id.
    await withOwnerClient(undefined, async (c) => {
      await c.query(`ALTER DATABASE "${t.databaseStem}acme" RENAME TO "${t.databasePrefix}acme"`);
      await c.query(`COMMENT ON DATABASE "${t.databasePrefix}acme" IS NULL`);
      await c.query(`COMMENT ON ROLE "${t.runtimeRole}" IS NULL`);
    });
    await withOwnerClient(t.controlDatabase, async (c) => {
      await c.query(`COMMENT ON SCHEMA tenancy_shared IS NULL; COMMENT ON SCHEMA tenant_widget IS NULL`);
      await c.query(`DELETE FROM tenancy.settings WHERE key IN ('deployment_id', 'deployment_key', 'kit_layout')`);
    });
  });

  afterAll(async () => {
    await upgraded?.close();
    await dropEverything(t.controlDatabase, t.databasePrefix, t.runtimeRole);
  });

  it('renames and marks what it made, keeps every row, and serves every tenant again', async () => {
    upgraded = await startTestApp({ join: t });
    for (const { id } of TENANTS) {
      const res: request.Response = await request(upgraded.http).get('/users').set(as(id));
      assert.equal(res.status, 200, `${id}: ${res.text}`);
      assert.deepEqual(
        res.body.items.map((u: { email: string }) => u.email),
        [`old-${id}@x.test`],
        id,
      );
    }
    assert.equal(await databaseExists(`${t.databasePrefix}acme`), false, 'the unkeyed name is gone');
    const id = await deploymentId(t);
    assert.match(await comment('database', `${t.databaseStem}acme`), new RegExp(`^nest-tenancy deployment ${id} `));
    assert.match(await comment('role', t.runtimeRole), new RegExp(`^nest-tenancy deployment ${id} `));
    const state = await withOwnerClient(t.controlDatabase, async (c) => ({
      pending: (await c.query(`SELECT count(*)::int AS n FROM tenancy.settings WHERE key LIKE 'upgrade:%'`)).rows[0].n,
      marks: (
        await c.query(
          `SELECT nspname, obj_description(oid, 'pg_namespace') ~ $1 AS ours FROM pg_namespace WHERE nspname IN ('tenancy_shared', 'tenant_widget') ORDER BY 1`,
          [`^nest-tenancy deployment ${id} `],
        )
      ).rows,
    }));
    assert.deepEqual(state, {
      pending: 0,
      marks: [
        { nspname: 'tenancy_shared', ours: true },
        { nspname: 'tenant_widget', ours: true },
      ],
    });
    const write = await request(upgraded.http).post('/users').set(as('acme')).send({ email: 'new-acme@x.test', name: 'New' });
    assert.equal(write.status, 201, write.text);
  });

  it('lays out again every location an older kit made (the move fence), even those the ledger calls current', async () => {
    const joined = upgraded!;
    await joined.app.close();
    upgraded = undefined;
    // What a kit before the fence left: no fence table or function in the tenant's places.
    await withOwnerClient(t.controlDatabase, async (c) => {
      await c.query(`DROP TABLE tenant_widget.tenancy_fence, tenancy_shared.tenancy_fence CASCADE`);
      await c.query(`DROP FUNCTION tenant_widget.tenancy_fenced(text), tenancy_shared.tenancy_fenced(text)`);
      await c.query(`UPDATE tenancy.settings SET value = '0' WHERE key = 'kit_layout'`);
    });
    await withOwnerClient(`${t.databaseStem}acme`, (c) =>
      c.query(`DROP TABLE public.tenancy_fence CASCADE; DROP FUNCTION public.tenancy_fenced(text)`),
    );
    // Tenants no longer in the file (made through the admin API, say) are not provisioned by a start:
    // only the layout step can restore their fence.
    writeFileSync(t.tenantsFile, stringify({ tiers: DEFAULT_TIERS, tenants: [] }));
    upgraded = await startTestApp({ join: t });
    for (const { id } of TENANTS) {
      const res: request.Response = await request(upgraded.http)
        .post('/users')
        .set(as(id))
        .send({ email: `relayout-${id}@x.test`, name: 'R' });
      assert.equal(res.status, 201, `${id}: ${res.text}`);
    }
    const fences = await withOwnerClient(t.controlDatabase, async (c) => ({
      tables: (
        await c.query(
          `SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'tenancy_fence' AND schemaname IN ('tenant_widget', 'tenancy_shared')`,
        )
      ).rows[0].n,
      layout: (await c.query(`SELECT value FROM tenancy.settings WHERE key = 'kit_layout'`)).rows[0].value,
    }));
    assert.deepEqual(fences, { tables: 2, layout: '1' });
    const acmeFence = await withOwnerClient(
      `${t.databaseStem}acme`,
      async (c) => (await c.query(`SELECT to_regclass('public.tenancy_fence') IS NOT NULL AS ok`)).rows[0].ok,
    );
    assert.equal(acmeFence, true);
  });
});
