// Moving a tenant between models while it is served, against real PostgreSQL: every ordered pair of
// models with reads and writes running over HTTP during the move and a row-for-row comparison
// afterwards; the write freeze for a tenant of 100,000 rows; a move killed midway (SIGKILL of the
// process running it) and run again; catalog changes seen by a second instance of the service.
import assert from 'node:assert/strict';
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import request from 'supertest';
import {
  decryptValue,
  IsolationModel,
  keyVersionOf,
  TenantCatalog,
  TenantKeyring,
  TenantLifecycle,
  TenantMover,
  TenantProvisioner,
} from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';
import { tenantFootprint, TenantFootprint, waitFor } from './support/tenant-rows';
import { compiledDir } from './support/compiled-dir';

const SECRET = 'lifecycle-move-suite-secret-0123456789abcdef';
type Row = Record<string, unknown> & { id: string };

/** The six ordered pairs, as one tour that ends where it started. */
const TOUR: [IsolationModel, IsolationModel][] = [
  ['shared', 'schema'],
  ['schema', 'database'],
  ['database', 'shared'],
  ['shared', 'database'],
  ['database', 'schema'],
  ['schema', 'shared'],
];
const BYSTANDERS: Record<IsolationModel, string> = { shared: 'by-shared', schema: 'by-schema', database: 'by-database' };

interface Sample {
  tenant: string;
  method: string;
  path: string;
  status: number;
  retryAfter?: string;
  message?: string;
  start: number;
  end: number;
}

/** Where a tenant's tables are, for an owner connection. */
function placeOf(t: TestApp, tenant: string, model: IsolationModel): { database: string; schema: string } {
  const safe = tenant.replace(/-/g, '_');
  if (model === 'database') return { database: `${t.databaseStem}${safe}`, schema: 'public' };
  return { database: t.controlDatabase, schema: model === 'schema' ? `tenant_${safe}` : 'tenancy_shared' };
}

/** Inserts `users` users (and a project for every fifth) through an owner connection, as the tenant. */
async function seed(t: TestApp, tenant: string, model: IsolationModel, users: number, tag = 'seed', projects = true): Promise<void> {
  const { database, schema } = placeOf(t, tenant, model);
  await withOwnerClient(database, async (c) => {
    await c.query('BEGIN');
    await c.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant]);
    await c.query(
      `INSERT INTO "${schema}".users (id, email, name)
       SELECT gen_random_uuid(), $2 || g || '@' || $1 || '.test', 'Seeded user ' || g FROM generate_series(1, $3) g`,
      [tenant, tag, users],
    );
    if (projects)
      await c.query(
        `INSERT INTO "${schema}".projects (id, name, description, created_by_id)
       SELECT gen_random_uuid(), 'Project of ' || email, CASE WHEN random() < 0.5 THEN NULL ELSE 'about ' || name END, id
         FROM "${schema}".users WHERE tenant_id = $1 AND email LIKE $2 || '%' AND (hashtext(email) % 5) = 0`,
        [tenant, tag],
      );
    await c.query('COMMIT');
  });
}

/**
 * Reads and writes for one tenant in a loop, over HTTP, until stopped: POST /users, every third
 * round POST /projects, GET /users and GET /users/:id of a user it created. Keeps every answer.
 */
class LiveLoad {
  readonly samples: Sample[] = [];
  readonly users = new Map<string, { id: string; email: string; name: string; createdAt: string }>();
  readonly projects = new Map<string, { id: string; name: string; description: string | null; createdBy: { id: string } }>();
  readonly failures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly http: any,
    readonly tenant: string,
    loops: number,
    private readonly tag: string,
  ) {
    this.loops = Array.from({ length: loops }, (_, n) => this.loop(n));
  }

  private async loop(n: number): Promise<void> {
    let lastUser: string | undefined;
    for (let i = 0; this.running; i++) {
      const email = `${this.tag}-${n}-${i}@${this.tenant}.test`;
      const made = await this.call('POST', '/users', { email, name: `Live ${n}/${i}` });
      if (made?.status === 201) {
        this.users.set(made.body.id, made.body);
        lastUser = made.body.id;
      }
      if (i % 3 === 2 && lastUser) {
        const project = await this.call('POST', '/projects', {
          name: `Live project ${n}/${i}`,
          description: i % 2 ? null : `round ${i}`,
          createdById: lastUser,
        });
        if (project?.status === 201) this.projects.set(project.body.id, project.body);
      }
      const list = await this.call('GET', '/users?limit=5');
      if (list?.status === 200 && !Array.isArray(list.body.items)) this.failures.push(`GET /users answered ${list.text}`);
      if (lastUser) {
        const got = await this.call('GET', `/users/${lastUser}`);
        if (got?.status === 200 && got.body.id !== lastUser) this.failures.push(`GET /users/${lastUser} answered ${got.text}`);
      }
    }
  }

  private async call(method: 'GET' | 'POST', path: string, body?: object): Promise<request.Response | undefined> {
    const start = Date.now();
    try {
      const req = method === 'GET' ? request(this.http).get(path) : request(this.http).post(path).send(body);
      const res = await req.set('X-Tenant-ID', this.tenant);
      this.samples.push({
        tenant: this.tenant,
        method,
        path,
        status: res.status,
        retryAfter: res.headers['retry-after'],
        message: res.body?.message,
        start,
        end: Date.now(),
      });
      return res;
    } catch (err) {
      this.failures.push(`${method} ${path}: ${(err as Error).message}`);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  writes(): Sample[] {
    return this.samples.filter((s) => s.method === 'POST');
  }

  reads(): Sample[] {
    return this.samples.filter((s) => s.method === 'GET');
  }
}

/**
 * The freeze windows of a tenant as this instance sees them: from the mover's `freezing` phase
 * (given as `phase`: the fence is committed just after it, before the catalog says `moving`) or the
 * catalog's `moving`, whichever comes first, to the catalog's return to another status.
 */
function watchFreezes(
  catalog: TenantCatalog,
  tenant: string,
): { windows: { start: number; end?: number }[]; phase(name: string): void; stop(): void } {
  const windows: { start: number; end?: number; moving?: boolean }[] = [];
  const open = () => (windows.at(-1) && windows.at(-1)!.end === undefined ? windows.at(-1) : undefined);
  const phase = (name: string) => {
    if (name === 'freezing' && !open()) windows.push({ start: Date.now() });
  };
  const onChange = (id: string) => {
    if (id !== tenant && id !== '*') return;
    const moving = catalog.get(tenant)?.status === 'moving';
    const current = open();
    if (moving && !current) windows.push({ start: Date.now(), moving: true });
    else if (moving && current) current.moving = true;
    // A window the phase opened closes only once the catalog has said `moving` and says so no more.
    else if (!moving && current?.moving) current.end = Date.now();
  };
  catalog.events.on('change', onChange);
  return { windows, phase, stop: () => catalog.events.off('change', onChange) };
}

function tables(fp: TenantFootprint): { locations: string[]; users: Row[]; projects: Row[] } {
  const of = (table: string) =>
    Object.entries(fp.rows)
      .filter(([k]) => k.endsWith(`.${table}`))
      .flatMap(([, rows]) => rows as Row[])
      .sort((a, b) => a.id.localeCompare(b.id));
  // The move record (tenancy.tenant_moves) of an unfinished move is no data location.
  return {
    locations: Object.keys(fp.rows)
      .filter((k) => !k.endsWith('.tenant_moves'))
      .sort(),
    users: of('users'),
    projects: of('projects'),
  };
}

/** Each request's answer is one a live move allows: reads 200, writes 201 or (frozen) 503 with Retry-After. */
function assertAnswers(load: LiveLoad, freezes: { start: number; end?: number }[], mayFreeze: boolean): { refused: number } {
  assert.deepEqual(load.failures, [], `${load.tenant}: requests failed`);
  for (const s of load.reads()) assert.equal(s.status, 200, `${load.tenant}: a read answered ${s.status} (${s.message}) at ${s.path}`);
  let refused = 0;
  for (const s of load.writes()) {
    if (s.status === 201) continue;
    assert.equal(s.status, 503, `${load.tenant}: a write answered ${s.status} (${s.message}) at ${s.path}`);
    assert.ok(mayFreeze, `${load.tenant}, not being moved, had a write refused: ${s.message}`);
    assert.match(String(s.retryAfter), /^\d+$/, 'a 503 carries Retry-After');
    const now = Date.now();
    assert.ok(
      freezes.some((w) => s.start <= (w.end ?? now) && s.end >= w.start),
      `a write was refused outside the freeze (${s.start}..${s.end}; freezes ${JSON.stringify(freezes)}): ${s.message}`,
    );
    refused++;
  }
  assert.ok(
    load.writes().some((s) => s.status === 201),
    `${load.tenant}: some writes succeeded`,
  );
  return { refused };
}

describe('moving tenants between models', () => {
  let t: TestApp;
  let admin: string;
  let mover: TenantMover;
  const footprint = (id: string) => tenantFootprint(t.controlDatabase, t.databasePrefix, id);
  const expectedLocations = (tenant: string, model: IsolationModel) => {
    const { database, schema } = placeOf(t, tenant, model);
    return [`${database}.${schema}.projects`, `${database}.${schema}.users`];
  };

  /**
   * After a move (or none, for a bystander): the tenant's rows are exactly the rows it had before
   * plus those its load was told were created (201), unchanged, and all of them at `model`'s place.
   */
  async function assertRows(
    tenant: string,
    model: IsolationModel,
    beforeRows: { users: Row[]; projects: Row[] },
    load: LiveLoad,
  ): Promise<{ users: number; projects: number }> {
    const fp = await footprint(tenant);
    const now = tables(fp);
    assert.deepEqual(now.locations, expectedLocations(tenant, model), `${tenant}: rows only at the ${model} place`);
    const safe = tenant.replace(/-/g, '_');
    assert.deepEqual(fp.schemas, model === 'schema' ? [`tenant_${safe}`] : [], `${tenant}: schema`);
    assert.deepEqual(fp.databases, model === 'database' ? [`${t.databaseStem}${safe}`] : [], `${tenant}: database`);

    // The email and the description are stored encrypted (the seeded rows, written by SQL, are not).
    const keys = await t.app.get(TenantKeyring).read(tenant);
    const open = (value: unknown, table: string, column: string) =>
      typeof value === 'string' && value.startsWith('enc1:')
        ? decryptValue(keys!.keys.get(keyVersionOf(value)!)!, value, { tenantId: tenant, table, column })
        : value;
    const userIds = new Set([...beforeRows.users.map((r) => r.id), ...load.users.keys()]);
    assert.equal(now.users.length, userIds.size, `${tenant}: as many users as were there plus those created (201)`);
    const nowUsers = new Map(now.users.map((r) => [r.id, r]));
    for (const row of beforeRows.users) assert.deepEqual(nowUsers.get(row.id), row, `${tenant}: user ${row.id} unchanged`);
    for (const made of load.users.values()) {
      const row = nowUsers.get(made.id);
      assert.ok(row, `${tenant}: user ${made.id} (201) exists`);
      assert.deepEqual(
        {
          id: row.id,
          tenant_id: row.tenant_id,
          email: open(row.email, 'users', 'email'),
          name: row.name,
          createdAt: (row.created_at as Date).toISOString(),
        },
        { id: made.id, tenant_id: tenant, email: made.email, name: made.name, createdAt: made.createdAt },
      );
    }
    const projectIds = new Set([...beforeRows.projects.map((r) => r.id), ...load.projects.keys()]);
    assert.equal(now.projects.length, projectIds.size, `${tenant}: as many projects as were there plus those created (201)`);
    const nowProjects = new Map(now.projects.map((r) => [r.id, r]));
    for (const row of beforeRows.projects) assert.deepEqual(nowProjects.get(row.id), row, `${tenant}: project ${row.id} unchanged`);
    for (const made of load.projects.values()) {
      const row = nowProjects.get(made.id);
      assert.ok(row, `${tenant}: project ${made.id} (201) exists`);
      assert.deepEqual(
        [row.name, open(row.description, 'projects', 'description'), row.created_by_id],
        [made.name, made.description, made.createdBy.id],
      );
    }
    return { users: now.users.length, projects: now.projects.length };
  }

  beforeAll(async () => {
    t = await startTestApp({
      tenants: [
        { id: 'mover', name: 'Mover', strategy: 'shared' },
        { id: 'by-shared', name: 'Bystander (shared)', strategy: 'shared' },
        { id: 'by-schema', name: 'Bystander (schema)', strategy: 'schema' },
        { id: 'by-database', name: 'Bystander (database)', strategy: 'database' },
      ],
      env: { JWT_SECRET: SECRET },
    });
    // One listening server for the many concurrent requests of the live loads.
    await new Promise<void>((ok) => t.http.listen(0, '127.0.0.1', ok));
    mover = t.app.get(TenantMover);
    admin = await new SignJWT({ role: 'super_admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(SECRET));
    await seed(t, 'mover', 'shared', 300);
    for (const [model, id] of Object.entries(BYSTANDERS)) await seed(t, id, model as IsolationModel, 50);
  });
  afterAll(async () => t?.close());

  describe('every ordered pair of models, with live reads and writes', () => {
    for (const [from, to] of TOUR) {
      it(`moves a tenant from ${from} to ${to} while it is read and written, losing nothing`, async () => {
        assert.equal(t.app.get(TenantCatalog).get('mover')?.strategy, from);
        const before = new Map<string, { users: Row[]; projects: Row[] }>();
        for (const id of ['mover', ...Object.values(BYSTANDERS)]) before.set(id, tables(await footprint(id)));
        const freezes = watchFreezes(t.app.get(TenantCatalog), 'mover');
        const tag = `${from}-${to}`;
        const loads = [new LiveLoad(t.http, 'mover', 2, tag), ...Object.values(BYSTANDERS).map((id) => new LiveLoad(t.http, id, 1, tag))];
        let report;
        try {
          await new Promise((r) => setTimeout(r, 150));
          report = await mover.move('mover', { strategy: to }, freezes.phase);
          await new Promise((r) => setTimeout(r, 150));
        } finally {
          await Promise.all(loads.map((l) => l.stop()));
          freezes.stop();
        }
        assert.deepEqual(report.from, { strategy: from, server: 'default' });
        assert.deepEqual(report.to, { strategy: to, server: 'default' });
        assert.ok(report.freezeMillis > 0 && report.freezeMillis <= report.totalMillis);
        assert.equal(freezes.windows.length, 1, `one freeze: ${JSON.stringify(freezes.windows)}`);
        assert.equal(t.app.get(TenantCatalog).get('mover')?.status, 'active');
        assert.equal(await mover.state('mover'), undefined, 'the move record is gone once done');

        const [moving, ...bystanders] = loads;
        const { refused } = assertAnswers(moving, freezes.windows, true);
        for (const load of bystanders) assertAnswers(load, freezes.windows, false);
        const counts = await assertRows('mover', to, before.get('mover')!, moving);
        for (const load of bystanders) {
          const model = Object.entries(BYSTANDERS).find(([, id]) => id === load.tenant)![0] as IsolationModel;
          await assertRows(load.tenant, model, before.get(load.tenant)!, load);
        }
        assert.ok(report.rows.users <= counts.users && report.rows.users >= before.get('mover')!.users.length);
        console.log(
          `# ${from} -> ${to}: ${counts.users} users, ${counts.projects} projects; writes paused ${report.freezeMillis} ms, ` +
            `move ${report.totalMillis} ms; live: ${moving.writes().length} writes (${refused} got 503), ${moving.reads().length} reads`,
        );
      });
    }
  });
  describe('a tenant of 100,000 rows', () => {
    const BIG = 'big';
    /** Starts the move in a child process and SIGKILLs it once the move record shows one of `phases`. */
    async function killMidway(strategy: IsolationModel, phases: string[], grace?: number): Promise<{ phase: string; output: string }> {
      const child: ChildProcess = fork(
        join(compiledDir(__dirname), 'support', 'move-child.js'),
        [BIG, strategy, ...(grace ? [String(grace)] : [])],
        {
          env: { ...process.env, ...t.serviceEnv, NODE_ENV: 'test' },
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        },
      );
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
      let phase = '';
      try {
        await withOwnerClient(t.controlDatabase, async (c) => {
          await waitFor(
            `the move to reach ${phases.join(' or ')}`,
            async () => {
              if (child.exitCode !== null) throw new Error(`the mover exited (${child.exitCode}) before it could be killed:\n${output}`);
              const { rows } = await c.query(`SELECT phase FROM tenancy.tenant_moves WHERE tenant_id = $1`, [BIG]);
              phase = rows[0]?.phase ?? '';
              return phases.includes(phase);
            },
            60_000,
            5,
          );
        });
        child.kill('SIGKILL');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      }
      return { phase, output };
    }

    /** Runs the move again in this instance; the killed mover's session may take a moment to end. */
    async function moveAgain(strategy: IsolationModel) {
      for (let i = 0; ; i++) {
        try {
          return await mover.move(BIG, { strategy });
        } catch (err) {
          if (!/already running/.test((err as Error).message) || i > 100) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }

    beforeAll(async () => {
      await t.app.get(TenantProvisioner).provision({ id: BIG, name: 'Big', strategy: 'shared' });
      const started = Date.now();
      await seed(t, BIG, 'shared', 100_000, 'bulk', false);
      console.log(`# seeded 100,000 users in ${Date.now() - started} ms`);
    });

    it('moves it from shared to database while it is written: prints how long writes were paused', async () => {
      const before = { big: tables(await footprint(BIG)), bystander: tables(await footprint(BYSTANDERS.shared)) };
      assert.equal(before.big.users.length, 100_000);
      const freezes = watchFreezes(t.app.get(TenantCatalog), BIG);
      const loads = [new LiveLoad(t.http, BIG, 1, 'big'), new LiveLoad(t.http, BYSTANDERS.shared, 1, 'big')];
      let report;
      try {
        report = await mover.move(BIG, { strategy: 'database' }, freezes.phase);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await Promise.all(loads.map((l) => l.stop()));
        freezes.stop();
      }
      console.log(
        `# move of 100,000 rows shared -> database: writes paused (freezeMillis) ${report.freezeMillis} ms, total ${report.totalMillis} ms`,
      );
      assert.equal(report.rows.users >= 100_000, true);
      const { refused } = assertAnswers(loads[0], freezes.windows, true);
      assertAnswers(loads[1], freezes.windows, false);
      console.log(
        `#   live during it: ${loads[0].writes().length} writes to the tenant (${refused} got 503), ${loads[0].reads().length} reads`,
      );
      await assertRows(BIG, 'database', before.big, loads[0]);
      await assertRows(BYSTANDERS.shared, 'shared', before.bystander, loads[1]);
    });

    it('a move killed while copying leaves the tenant served from the source; running it again completes', async () => {
      const before = tables(await footprint(BIG));
      const { phase } = await killMidway('schema', ['copying']);
      assert.equal(phase, 'copying');
      const catalog = t.app.get(TenantCatalog);
      assert.equal(catalog.get(BIG)?.strategy, 'database');
      assert.equal(catalog.get(BIG)?.status, 'active');
      // Served from the source, reads and writes.
      const made = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', BIG)
        .send({ email: 'after-kill@big.test', name: 'After the kill' });
      assert.equal(made.status, 201, made.text);
      assert.equal((await request(t.http).get(`/users/${made.body.id}`).set('X-Tenant-ID', BIG)).status, 200);
      const fp = tables(await footprint(BIG));
      assert.deepEqual(fp.locations, expectedLocations(BIG, 'database'), 'no row was committed at the target');
      assert.equal(fp.users.length, before.users.length + 1);

      const report = await moveAgain('schema');
      console.log(
        `# move of ${report.rows.users} rows database -> schema, run again after the kill: writes paused ${report.freezeMillis} ms, total ${report.totalMillis} ms`,
      );
      const after = tables(await footprint(BIG));
      assert.deepEqual(after.locations, expectedLocations(BIG, 'schema'));
      assert.deepEqual(after.users, fp.users, 'every row arrived unchanged');
      assert.deepEqual(after.projects, fp.projects);
      assert.equal(await mover.state(BIG), undefined);
      assert.deepEqual((await footprint(BIG)).databases, []);
    });

    it('a move killed while writes are frozen: the tenant is served from the source again within 10 s; running it again completes', async () => {
      const before = tables(await footprint(BIG));
      const catalog = t.app.get(TenantCatalog);
      // A long grace keeps the move in its freeze long enough to be caught there.
      const { phase } = await killMidway('shared', ['freezing'], 3_000);
      assert.equal(phase, 'freezing');
      const killedAt = Date.now();
      await waitFor('this instance to hear of the freeze', () => catalog.get(BIG)?.status === 'moving', 2_000);
      const refused = await request(t.http).post('/users').set('X-Tenant-ID', BIG).send({ email: 'frozen@big.test', name: 'Frozen' });
      assert.equal(refused.status, 503, 'writes are refused while the tenant is left frozen');
      assert.ok(refused.headers['retry-after']);
      assert.equal((await request(t.http).get('/users?limit=1').set('X-Tenant-ID', BIG)).status, 200, 'reads go on');
      // Recovery is TenantMover.recoverAbandoned, run by every instance every few seconds.
      const recovered = await waitFor('the tenant to be active again', () => catalog.get(BIG)?.status === 'active', 10_000, 20);
      console.log(`# killed in the freeze: served again ${Date.now() - killedAt} ms after the kill (${recovered} ms of polling)`);
      assert.equal(catalog.get(BIG)?.strategy, 'schema');
      const made = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', BIG)
        .send({ email: 'after-freeze-kill@big.test', name: 'After' });
      assert.equal(made.status, 201, made.text);
      // The source holds every row; the target may hold the copy the killed move had committed.
      const source = placeOf(t, BIG, 'schema');
      const fp = await footprint(BIG);
      const atSource = (fp.rows[`${source.database}.${source.schema}.users`] as Row[]).map((r) => r.id).sort();
      assert.deepEqual(atSource, [...before.users.map((u) => u.id), made.body.id].sort());

      const report = await moveAgain('shared');
      console.log(
        `# move of ${report.rows.users} rows schema -> shared, run again after the kill: writes paused ${report.freezeMillis} ms, total ${report.totalMillis} ms`,
      );
      const after = tables(await footprint(BIG));
      assert.deepEqual(after.locations, expectedLocations(BIG, 'shared'));
      const expected = (fp.rows[`${source.database}.${source.schema}.users`] as Row[]).sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(after.users, expected, 'every row of the source arrived unchanged');
      assert.deepEqual((await footprint(BIG)).schemas, []);
      assert.equal(await mover.state(BIG), undefined);
    });
  });

  describe('a write in flight when the freeze begins', () => {
    it('is waited for, and moves with the tenant (out of the shared tables, which are not locked for the others)', async () => {
      const id = 'in-flight';
      await t.app.get(TenantProvisioner).provision({ id, name: 'In flight', strategy: 'shared' });
      await seed(t, id, 'shared', 200);
      // A transaction of the service (the runtime role) that wrote a row of the tenant and has not committed.
      const password = await withOwnerClient(
        t.controlDatabase,
        async (c) =>
          (await c.query(`SELECT value FROM tenancy.settings WHERE key = $1`, [`runtime_password:${t.runtimeRole}`])).rows[0].value,
      );
      const url = new URL(t.databaseUrl);
      url.username = t.runtimeRole;
      url.password = password;
      const writer = new Client({ connectionString: url.toString() });
      await writer.connect();
      let moving: Promise<unknown> | undefined;
      try {
        await writer.query('BEGIN');
        await writer.query(`SELECT set_config('app.tenant_id', $1, true), set_config('search_path', 'tenancy_shared', true)`, [id]);
        const { rows } = await writer.query(
          `INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), 'in-flight@x.test', 'In flight') RETURNING id`,
        );
        moving = mover.move(id, { strategy: 'schema' });
        moving.catch(() => undefined);
        await withOwnerClient(t.controlDatabase, (c) =>
          waitFor(
            'the freeze',
            async () => (await c.query(`SELECT phase FROM tenancy.tenant_moves WHERE tenant_id = $1`, [id])).rows[0]?.phase === 'freezing',
            30_000,
            5,
          ),
        );
        await new Promise((r) => setTimeout(r, mover.freezeGraceMillis + 500));
        assert.equal(t.app.get(TenantCatalog).get(id)?.strategy, 'shared', 'the switch waits for the open transaction');
        // Another shared tenant writes meanwhile, unhindered.
        const other = await request(t.http)
          .post('/users')
          .set('X-Tenant-ID', BYSTANDERS.shared)
          .send({ email: 'during-freeze@x.test', name: 'During' });
        assert.equal(other.status, 201, other.text);
        await writer.query('COMMIT');
        await moving;
        const fp = tables(await footprint(id));
        assert.deepEqual(fp.locations, expectedLocations(id, 'schema'));
        assert.ok(
          fp.users.some((u) => u.id === rows[0].id),
          'the row committed during the freeze moved too',
        );
        assert.equal(fp.users.length, 201);
      } finally {
        await writer.end();
        await moving?.catch(() => undefined);
      }
    });
  });

  describe('deleting a tenant around a move', () => {
    it('refuses to delete a tenant while a move copies it (409), and the move completes', async () => {
      const id = 'big';
      assert.equal(t.app.get(TenantCatalog).get(id)?.strategy, 'shared');
      const before = tables(await footprint(id));
      const moving = mover.move(id, { strategy: 'schema' });
      moving.catch(() => undefined);
      await withOwnerClient(t.controlDatabase, (c) =>
        waitFor(
          'the copy to start',
          async () => (await c.query(`SELECT phase FROM tenancy.tenant_moves WHERE tenant_id = $1`, [id])).rows[0]?.phase === 'copying',
          30_000,
          5,
        ),
      );
      const refused = await request(t.http).delete(`/admin/tenants/${id}?force=true`).set('Authorization', `Bearer ${admin}`);
      assert.equal(refused.status, 409, refused.text);
      await moving;
      const after = tables(await footprint(id));
      assert.deepEqual(after.locations, expectedLocations(id, 'schema'));
      assert.deepEqual(after.users, before.users);
      assert.equal(t.app.get(TenantCatalog).get(id)?.status, 'active');
    });

    it('deleting a tenant after a killed move also removes the copy the move had left at its target', async () => {
      const id = 'abandoned';
      await t.app.get(TenantProvisioner).provision({ id, name: 'Abandoned', strategy: 'schema' });
      await seed(t, id, 'schema', 500);
      const child = fork(join(compiledDir(__dirname), 'support', 'move-child.js'), [id, 'shared', '3000'], {
        env: { ...process.env, ...t.serviceEnv, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const exited = new Promise((ok) => child.on('exit', ok));
      try {
        await withOwnerClient(t.controlDatabase, (c) =>
          waitFor(
            'the freeze',
            async () => (await c.query(`SELECT phase FROM tenancy.tenant_moves WHERE tenant_id = $1`, [id])).rows[0]?.phase === 'freezing',
            60_000,
            5,
          ),
        );
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      // The bulk copy was committed at the target before the freeze: the tenant's rows are in two places.
      assert.deepEqual(
        tables(await footprint(id)).locations,
        [...expectedLocations(id, 'schema'), ...expectedLocations(id, 'shared')].sort(),
      );
      await waitFor('the recovery', async () => (await mover.recoverAbandoned()).includes(id), 10_000, 100);
      assert.equal(t.app.get(TenantCatalog).get(id)?.status, 'active');
      const res = await request(t.http).delete(`/admin/tenants/${id}?force=true`).set('Authorization', `Bearer ${admin}`);
      assert.equal(res.status, 204, res.text);
      const fp = await footprint(id);
      assert.deepEqual(fp.rows, {}, `rows of the deleted tenant remain at ${Object.keys(fp.rows).join(', ')}`);
      assert.deepEqual(fp.schemas, []);
      assert.deepEqual(fp.databases, []);
    });
  });

  describe('a second instance of the service', () => {
    let t2: TestApp;
    const ID = 'seen-twice';
    beforeAll(async () => {
      t2 = await startTestApp({ join: t });
      await new Promise<void>((ok) => t2.http.listen(0, '127.0.0.1', ok));
    });
    afterAll(async () => t2?.close());

    const seenBy2 = (what: string, probe: () => boolean) => waitFor(`instance 2 to see ${what}`, probe, 5_000, 5);

    it('sees a new tenant, a suspend, a move and a delete within a second', async () => {
      const catalog2 = t2.app.get(TenantCatalog);
      const times: Record<string, number> = {};

      await t.app.get(TenantProvisioner).provision({ id: ID, name: 'Seen twice', strategy: 'schema' });
      times.provision = await seenBy2('the new tenant', () => catalog2.get(ID)?.status === 'active');
      const user = await request(t2.http).post('/users').set('X-Tenant-ID', ID).send({ email: 'two@seen.test', name: 'Two' });
      assert.equal(user.status, 201, user.text);

      await request(t.http).post(`/admin/tenants/${ID}/suspend`).set('Authorization', `Bearer ${admin}`).expect(200);
      times.suspend = await seenBy2('the suspend', () => catalog2.get(ID)?.status === 'suspended');
      assert.equal((await request(t2.http).get('/users').set('X-Tenant-ID', ID)).status, 403);
      await request(t.http).post(`/admin/tenants/${ID}/resume`).set('Authorization', `Bearer ${admin}`).expect(200);
      times.resume = await seenBy2('the resume', () => catalog2.get(ID)?.status === 'active');

      const frozen2 = watchFreezes(catalog2, ID);
      const report = await mover.move(ID, { strategy: 'database' });
      times.move = await seenBy2('the move', () => catalog2.get(ID)?.strategy === 'database' && catalog2.get(ID)?.status === 'active');
      frozen2.stop();
      assert.equal(frozen2.windows.length, 1, 'instance 2 heard of the freeze');
      assert.ok(frozen2.windows[0].end, 'and of its end');
      assert.ok(frozen2.windows[0].end! - frozen2.windows[0].start <= report.freezeMillis + 1_000);
      const got = await request(t2.http).get(`/users/${user.body.id}`).set('X-Tenant-ID', ID);
      assert.equal(got.status, 200, 'instance 2 serves the tenant from its new place');
      assert.equal(got.body.email, 'two@seen.test');

      await t.app.get(TenantLifecycle).remove(ID, { force: true });
      times.delete = await seenBy2('the delete', () => catalog2.get(ID) === undefined);
      assert.equal((await request(t2.http).get('/users').set('X-Tenant-ID', ID)).status, 404);

      console.log(`# instance 2 saw the catalog changes after (ms): ${JSON.stringify(times)}`);
      for (const [what, ms] of Object.entries(times)) assert.ok(ms < 1_000, `${what} took ${ms} ms to reach instance 2`);
    });

    it('a listener that lost its connection reconnects and catches up with what it missed', async () => {
      const id = 'missed';
      await t.app.get(TenantProvisioner).provision({ id, name: 'Missed', strategy: 'shared' });
      const catalog2 = t2.app.get(TenantCatalog);
      await seenBy2('the new tenant', () => catalog2.get(id)?.status === 'active');
      // End every catalog listener of the suite's database (both instances'), then change the catalog at once.
      const ended = await withOwnerClient(
        t.controlDatabase,
        async (c) =>
          (
            await c.query(
              `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'nest-tenancy:catalog'`,
            )
          ).rows,
      );
      assert.equal(ended.length, 2, 'one listener per instance');
      const started = Date.now();
      await t.app.get(TenantLifecycle).suspend(id);
      await waitFor('instance 2 to catch up', () => catalog2.get(id)?.status === 'suspended', 5_000, 10);
      console.log(`# instance 2 caught up after losing its listener in ${Date.now() - started} ms`);
      // And it hears the next change through the new listener, at once.
      await t.app.get(TenantLifecycle).resume(id);
      assert.ok((await seenBy2('the resume', () => catalog2.get(id)?.status === 'active')) < 1_000);
    });

    it('moves a tenant through the admin API of one instance, with its progress visible, while the other serves it', async () => {
      const id = 'moved-by-api';
      await t.app.get(TenantProvisioner).provision({ id, name: 'Moved by the API', strategy: 'shared' });
      await seed(t, id, 'shared', 2_000);
      const before = tables(await footprint(id));
      const api = (path: string) => request(t2.http).post(path).set('Authorization', `Bearer ${admin}`);
      const started = await api(`/admin/tenants/${id}/move`).send({ strategy: 'schema' });
      assert.equal(started.status, 202, started.text);
      assert.deepEqual(started.body.move, { from: 'shared', to: 'schema', server: null });
      const phases = new Set<string>();
      await waitFor(
        'the move to finish',
        async () => {
          const res = await request(t.http).get(`/admin/tenants/${id}`).set('Authorization', `Bearer ${admin}`);
          assert.equal(res.status, 200, res.text);
          if (res.body.move) phases.add(res.body.move.phase);
          return res.body.strategy === 'schema' && res.body.move === null;
        },
        30_000,
        20,
      );
      assert.ok(phases.has('freezing') || phases.has('copying'), `progress was visible: ${[...phases]}`);
      await seenBy2('the move', () => t2.app.get(TenantCatalog).get(id)?.strategy === 'schema');
      const now = tables(await footprint(id));
      assert.deepEqual(now.locations, expectedLocations(id, 'schema'));
      assert.deepEqual(now.users, before.users);
      assert.deepEqual(now.projects, before.projects);
      assert.equal((await request(t2.http).get('/users?limit=100').set('X-Tenant-ID', id)).body.items.length, 100);
    });

    it('refuses a move that cannot be done at once, with a 4xx, and starts nothing', async () => {
      const api = (path: string) => request(t2.http).post(path).set('Authorization', `Bearer ${admin}`);
      const id = 'moved-by-api';
      const refused: [object, number][] = [
        [{ strategy: 'schema' }, 409], // already there
        [{ strategy: 'database', server: 'mars' }, 400],
        [{ strategy: 'shared', server: 'default' }, 400],
        [{ strategy: 'cloud' }, 400],
        [{}, 400],
      ];
      for (const [body, status] of refused) {
        const res = await api(`/admin/tenants/${id}/move`).send(body);
        assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
        assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'statusCode']);
      }
      assert.equal((await api('/admin/tenants/nobody/move').send({ strategy: 'schema' })).status, 404);
      assert.equal(await mover.state(id), undefined, 'no move was recorded');
      assert.equal(t.app.get(TenantCatalog).get(id)?.strategy, 'schema');
    });
  });
});
