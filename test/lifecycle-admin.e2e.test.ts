// The tenant lifecycle through the admin HTTP API, against real PostgreSQL: who may call it,
// provisioning per model (and what a bad definition leaves behind: nothing), listing and inspecting,
// suspend and resume, the NDJSON export, and deletion that leaves no row of the tenant anywhere.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { JWTPayload, SignJWT } from 'jose';
import request from 'supertest';
import type { IsolationModel } from '../libs/tenancy/src';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';
import { suiteDatabases, tenantFootprint, TenantFootprint } from './support/tenant-rows';

const SECRET = 'lifecycle-admin-suite-secret-0123456789abcdef';
const OTHER_SECRET = 'not-the-secret-of-this-service-0123456789ab';
const LATEST = new TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1]().name;
const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
/** How each model is asked for: by tier for two of them, by strategy for the third. */
const DEFINITION: Record<IsolationModel, { tier?: string; strategy?: IsolationModel }> = {
  shared: { tier: 'free' },
  schema: { strategy: 'schema' },
  database: { tier: 'enterprise' },
};

function sign(claims: JWTPayload, options: { secret?: string; expiresAt?: number | string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

function assertError(res: request.Response, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'statusCode'], res.text);
  assert.equal(res.body.statusCode, status);
  assert.doesNotMatch(res.text, /\n\s+at /, 'a stack trace leaked');
}

/** Collects a streamed body as text whatever its content type. */
function text(res: request.Response & { text?: string }, done: (err: Error | null, body: string) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (body += chunk));
  res.on('end', () => done(null, body));
}

describe('admin API: the tenant lifecycle over HTTP', () => {
  let t: TestApp;
  let admin: string;
  const catalogRow = (id: string) =>
    withOwnerClient(
      t.controlDatabase,
      async (c) => (await c.query(`SELECT id, strategy, status FROM tenancy.tenants WHERE id = $1`, [id])).rows,
    );
  const ledgerRow = (id: string) =>
    withOwnerClient(
      t.controlDatabase,
      async (c) => (await c.query(`SELECT target, version, status FROM tenancy.migration_ledger WHERE target = $1`, [id])).rows,
    );
  const footprint = (id: string) => tenantFootprint(t.controlDatabase, t.databasePrefix, id);
  const api = () => ({
    get: (path: string) => request(t.http).get(path).set('Authorization', `Bearer ${admin}`),
    post: (path: string, body?: object) =>
      request(t.http)
        .post(path)
        .set('Authorization', `Bearer ${admin}`)
        .send(body ?? {}),
    delete: (path: string) => request(t.http).delete(path).set('Authorization', `Bearer ${admin}`),
  });

  async function provision(id: string, model: IsolationModel): Promise<request.Response> {
    const res = await api().post('/admin/tenants', { id, name: `Tenant ${id}`, ...DEFINITION[model] });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.id, id);
    assert.equal(res.body.strategy, model);
    assert.equal(res.body.status, 'active');
    return res;
  }

  async function createUser(tenant: string, email: string, name = 'Someone') {
    const res = await request(t.http).post('/users').set(as(tenant)).send({ email, name });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; email: string; name: string; createdAt: string };
  }

  async function createProject(tenant: string, name: string, createdById: string) {
    const res = await request(t.http)
      .post('/projects')
      .set(as(tenant))
      .send({ name, description: `about ${name}`, createdById });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; name: string };
  }

  /** A few users and projects; returns their ids. */
  async function populate(tenant: string, users: number, projects: number) {
    const made = { users: [] as string[], projects: [] as string[] };
    for (let i = 0; i < users; i++) made.users.push((await createUser(tenant, `user${i}@${tenant}.test`, `User ${i} of ${tenant}`)).id);
    for (let i = 0; i < projects; i++)
      made.projects.push((await createProject(tenant, `Project ${i} of ${tenant}`, made.users[i % users])).id);
    return made;
  }

  async function exportOf(id: string): Promise<{ res: request.Response; lines: any[] }> {
    const res = await api().get(`/admin/tenants/${id}/export`).buffer(true).parse(text);
    assert.equal(res.status, 200, String(res.body));
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
    const body = res.body as string;
    assert.ok(body.endsWith('\n'), 'every NDJSON line ends with a newline');
    return {
      res,
      lines: body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    };
  }

  function assertNothingLeft(fp: TenantFootprint, id: string): void {
    assert.deepEqual(fp.rows, {}, `rows of ${id} remain: ${Object.keys(fp.rows).join(', ')}`);
    assert.deepEqual(fp.schemas, [], `the schema of ${id} remains`);
    assert.deepEqual(fp.databases, [], `the database of ${id} remains`);
  }

  beforeAll(async () => {
    t = await startTestApp({ tenants: [{ id: 'seed-free', name: 'Seed Free', tier: 'free' }], env: { JWT_SECRET: SECRET } });
    admin = await sign({ sub: 'operator', role: 'super_admin' });
  });
  afterAll(async () => t?.close());

  describe('who may call it', () => {
    it('refuses a request without a token with 401', async () => {
      assertError(await request(t.http).get('/admin/tenants'), 401);
      assertError(await request(t.http).post('/admin/tenants').send({ id: 'no-token', name: 'x', tier: 'free' }), 401);
      assertError(await request(t.http).delete('/admin/tenants/seed-free?force=true'), 401);
    });

    it('refuses a token signed with another secret, a malformed one and an expired one with 401', async () => {
      const forged = await sign({ role: 'super_admin' }, { secret: OTHER_SECRET });
      assertError(await request(t.http).get('/admin/tenants').set('Authorization', `Bearer ${forged}`), 401);
      const [head, , sig] = admin.split('.');
      const tampered = `${head}.${Buffer.from(JSON.stringify({ role: 'super_admin', sub: 'mallory' })).toString('base64url')}.${sig}`;
      assertError(await request(t.http).get('/admin/tenants').set('Authorization', `Bearer ${tampered}`), 401);
      assertError(await request(t.http).get('/admin/tenants').set('Authorization', 'Bearer not-a-jwt'), 401);
      const expired = await sign({ role: 'super_admin' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 });
      assertError(await request(t.http).get('/admin/tenants').set('Authorization', `Bearer ${expired}`), 401);
    });

    it('refuses a tenant user’s valid token (no super_admin role) with 403, and it creates nothing', async () => {
      const user = await sign({ tenant_id: 'seed-free', role: 'admin', sub: 'u1' });
      assertError(await request(t.http).get('/admin/tenants').set('Authorization', `Bearer ${user}`), 403);
      const made = await request(t.http)
        .post('/admin/tenants')
        .set('Authorization', `Bearer ${user}`)
        .send({ id: 'by-a-user', name: 'x', tier: 'free' });
      assertError(made, 403);
      assert.deepEqual(await catalogRow('by-a-user'), []);
      // The same token is good for the tenant's own API.
      assert.equal((await request(t.http).get('/users').set('Authorization', `Bearer ${user}`)).status, 200);
    });

    it('serves a super_admin token (role as a string or in a list) with 200', async () => {
      const res = await api().get('/admin/tenants');
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.items.some((x: { id: string }) => x.id === 'seed-free'));
      const listed = await sign({ roles: ['reader', 'super_admin'] });
      assert.equal((await request(t.http).get('/admin/tenants').set('Authorization', `Bearer ${listed}`)).status, 200);
    });
  });

  describe('provisioning', () => {
    for (const model of MODELS) {
      it(`provisions a ${model} tenant that then serves /users; provisioning it again changes nothing`, async () => {
        const id = `p-${model}`;
        const first = await provision(id, model);
        assert.equal(typeof first.body.provisionMillis, 'number');
        console.log(`# provisioned a ${model} tenant over HTTP in ${first.body.provisionMillis} ms`);
        const user = await createUser(id, `first@${id}.test`, 'First');
        const listed = await request(t.http).get('/users').set(as(id));
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body.items, [user]);

        const again = await provision(id, model);
        assert.equal(again.body.createdAt, first.body.createdAt);
        assert.equal((await catalogRow(id)).length, 1);
        const still = await request(t.http).get('/users').set(as(id));
        assert.deepEqual(still.body.items, [user], 'provisioning again kept the rows');

        const fp = await footprint(id);
        assert.deepEqual(fp.schemas, model === 'schema' ? [`tenant_p_schema`] : []);
        assert.deepEqual(fp.databases, model === 'database' ? [`${t.databaseStem}p_database`] : []);
        assert.deepEqual(
          Object.values(fp.rows)
            .flat()
            .map((r) => r.id),
          [user.id],
        );
        assert.deepEqual(await ledgerRow(id), model === 'shared' ? [] : [{ target: id, version: LATEST, status: 'current' }]);
      });
    }

    for (const model of MODELS) {
      it(`provisions a ${model} tenant asked for five times at once exactly once`, async () => {
        const id = `c-${model}`;
        const all = await Promise.all(
          Array.from({ length: 5 }, () => api().post('/admin/tenants', { id, name: `Tenant ${id}`, ...DEFINITION[model] })),
        );
        assert.deepEqual(
          all.map((r) => r.status),
          [201, 201, 201, 201, 201],
          all.map((r) => r.text).join('\n'),
        );
        assert.ok(all.every((r) => r.body.status === 'active' && r.body.strategy === model));
        assert.deepEqual(await catalogRow(id), [{ id, strategy: model, status: 'active' }]);
        await createUser(id, `once@${id}.test`);
        assert.equal((await request(t.http).get('/users').set(as(id))).body.items.length, 1);
      });
    }

    it('finishes a half-made tenant on the next try, and never serves it before', async () => {
      // As if a provisioning had died after recording the tenant and creating its (marked) schema.
      await withOwnerClient(t.controlDatabase, async (c) => {
        await c.query(`INSERT INTO tenancy.tenants (id, name, strategy) VALUES ('half-made', 'Half', 'schema')`);
        await c.query(`CREATE SCHEMA tenant_half_made`);
        await c.query(`COMMENT ON SCHEMA tenant_half_made IS '${t.deploymentMark}'`);
      });
      let res: request.Response | undefined;
      for (let i = 0; i < 100 && res?.status !== 503; i++) {
        res = await request(t.http).get('/users').set(as('half-made'));
        if (res.status === 404) await new Promise((r) => setTimeout(r, 10));
      }
      assertError(res!, 503);
      assert.equal((await request(t.http).post('/users').set(as('half-made')).send({ email: 'a@b.c', name: 'A' })).status, 503);
      const done = await api().post('/admin/tenants', { id: 'half-made', name: 'Half', strategy: 'schema' });
      assert.equal(done.status, 201, done.text);
      assert.equal(done.body.status, 'active');
      await createUser('half-made', 'now@half.test');
      assert.equal((await request(t.http).get('/users').set(as('half-made'))).body.items.length, 1);
    });

    it('refuses bad definitions with 400 and creates nothing', async () => {
      const state = async () => ({
        catalog: await withOwnerClient(t.controlDatabase, async (c) =>
          (await c.query(`SELECT id FROM tenancy.tenants ORDER BY id`)).rows.map((r) => r.id),
        ),
        ledger: await withOwnerClient(t.controlDatabase, async (c) =>
          (await c.query(`SELECT target FROM tenancy.migration_ledger ORDER BY 1`)).rows.map((r) => r.target),
        ),
        schemas: await withOwnerClient(t.controlDatabase, async (c) =>
          (await c.query(`SELECT nspname FROM pg_namespace ORDER BY 1`)).rows.map((r) => r.nspname),
        ),
        databases: await suiteDatabases(t.controlDatabase, t.databasePrefix),
      });
      const before = await state();
      const bad: [string, object][] = [
        ['uppercase id', { id: 'Bad-Id', name: 'x', tier: 'free' }],
        ['underscore id', { id: 'bad_id', name: 'x', tier: 'free' }],
        ['leading dash', { id: '-bad', name: 'x', tier: 'free' }],
        ['41 characters', { id: 'a'.repeat(41), name: 'x', tier: 'free' }],
        ['quote in id', { id: `x'; drop schema tenancy cascade; --`, name: 'x', tier: 'free' }],
        ['no id', { name: 'x', tier: 'free' }],
        ['no name', { id: 'no-name', tier: 'free' }],
        ['unknown tier', { id: 'gold-tier', name: 'x', tier: 'gold' }],
        ['inherited key as tier', { id: 'proto-tier', name: 'x', tier: 'constructor' }],
        ['unknown strategy', { id: 'cloud', name: 'x', strategy: 'cloud' }],
        ['neither tier nor strategy', { id: 'no-model', name: 'x' }],
        ['unknown server', { id: 'far-away', name: 'x', strategy: 'database', server: 'mars' }],
        ['server on a schema tenant', { id: 'schema-srv', name: 'x', strategy: 'schema', server: 'default' }],
        ['server on a shared tenant by tier', { id: 'shared-srv', name: 'x', tier: 'free', server: 'default' }],
        ['unknown field', { id: 'extra-field', name: 'x', tier: 'free', owner: 'me' }],
      ];
      for (const [what, body] of bad) {
        const res = await api().post('/admin/tenants', body);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assertError(res, 400);
      }
      assert.deepEqual(await state(), before);
      for (const id of ['gold-tier', 'proto-tier', 'far-away', 'schema-srv', 'shared-srv', 'no-model']) {
        assertError(await request(t.http).get('/users').set(as(id)), 404);
      }
    });
  });

  describe('listing and inspecting', () => {
    it('lists every tenant with model, tier, status, schema version and size on disk', async () => {
      const res = await api().get('/admin/tenants');
      assert.equal(res.status, 200);
      const byId = new Map(res.body.items.map((x: any) => [x.id, x]));
      const expected: [string, IsolationModel, string | null][] = [
        ['p-shared', 'shared', 'free'],
        ['p-schema', 'schema', null],
        ['p-database', 'database', 'enterprise'],
        ['seed-free', 'shared', 'free'],
      ];
      for (const [id, model, tier] of expected) {
        const item: any = byId.get(id);
        assert.ok(item, `${id} is listed`);
        assert.equal(item.strategy, model);
        assert.equal(item.tier, tier);
        assert.equal(item.status, 'active');
        assert.equal(item.version, LATEST);
        assert.equal(typeof item.sizeBytes, 'number', `${id}: ${JSON.stringify(item)}`);
      }
      // Schemas and databases by pg_total_relation_size; shared tenants by their share of the rows.
      assert.ok((byId.get('p-schema') as any).sizeBytes > 16_384);
      assert.ok((byId.get('p-database') as any).sizeBytes > 1_000_000);
      assert.ok((byId.get('p-shared') as any).sizeBytes > 0);
      assert.equal((byId.get('seed-free') as any).sizeBytes, 0, 'a shared tenant without rows has no share');
      const ids = res.body.items.map((x: { id: string }) => x.id);
      assert.deepEqual(ids, [...ids].sort());
    });

    for (const model of MODELS) {
      it(`inspects a ${model} tenant with its row count per table`, async () => {
        const id = `i-${model}`;
        await provision(id, model);
        await populate(id, 4, 3);
        await populate(`p-${model}`, 2, 1); // a neighbour in the same model: not counted
        const res = await api().get(`/admin/tenants/${id}`);
        assert.equal(res.status, 200, res.text);
        // The app's own tables hold what was written; any other feature table of the app holds nothing.
        const { users, projects, ...others } = res.body.rows as Record<string, number>;
        assert.deepEqual({ users, projects }, { users: 4, projects: 3 });
        assert.deepEqual(
          Object.entries(others).filter(([, n]) => n !== 0),
          [],
        );
        if (process.env.TEST_EXTRA_TABLE) assert.equal(others[process.env.TEST_EXTRA_TABLE], 0, 'the extra table is counted');
        assert.equal(res.body.strategy, model);
        assert.equal(res.body.version, LATEST);
        assert.equal(res.body.move, null);
        assert.ok(res.body.sizeBytes > 0);
      });
    }

    it('answers an unknown tenant with 404 and a malformed id with 400', async () => {
      assertError(await api().get('/admin/tenants/nobody-here'), 404);
      assertError(await api().get('/admin/tenants/Not_Valid'), 400);
      assertError(await api().post('/admin/tenants/nobody-here/suspend'), 404);
      assertError(await api().get('/admin/tenants/nobody-here/export'), 404);
      assertError(await api().delete('/admin/tenants/nobody-here?force=true'), 404);
    });
  });

  describe('suspend and resume', () => {
    for (const model of MODELS) {
      it(`a suspended ${model} tenant gets 403 at once, and is served again once resumed`, async () => {
        const id = `i-${model}`;
        const suspended = await api().post(`/admin/tenants/${id}/suspend`);
        assert.equal(suspended.status, 200, suspended.text);
        assert.equal(suspended.body.status, 'suspended');
        assertError(await request(t.http).get('/users').set(as(id)), 403);
        assertError(await request(t.http).post('/users').set(as(id)).send({ email: 'late@x.test', name: 'Late' }), 403);
        const listed = (await api().get('/admin/tenants')).body.items.find((x: { id: string }) => x.id === id);
        assert.equal(listed.status, 'suspended');
        // Another tenant of the model is not affected.
        assert.equal(
          (
            await request(t.http)
              .get('/users')
              .set(as(`p-${model}`))
          ).status,
          200,
        );

        const resumed = await api().post(`/admin/tenants/${id}/resume`);
        assert.equal(resumed.status, 200);
        assert.equal(resumed.body.status, 'active');
        const users = await request(t.http).get('/users').set(as(id));
        assert.equal(users.status, 200);
        assert.equal(users.body.items.length, 4);
        assert.equal((await request(t.http).post('/users').set(as(id)).send({ email: 'back@x.test', name: 'Back' })).status, 201);
      });
    }
  });

  describe('export', () => {
    for (const model of MODELS) {
      it(`streams every row of a ${model} tenant as NDJSON, parents first, and none of another tenant’s`, async () => {
        const id = `x-${model}`;
        const neighbour = `n-${model}`;
        await provision(id, model);
        await provision(neighbour, model);
        const mine = await populate(id, 5, 4);
        const theirs = await populate(neighbour, 3, 2);
        const { res, lines } = await exportOf(id);
        assert.match(String(res.headers['content-disposition']), new RegExp(`filename="${id}.ndjson"`));

        const [header, ...rows] = lines;
        assert.equal(header.type, 'tenant');
        assert.deepEqual(header.tenant, { id, name: `Tenant ${id}`, tier: DEFINITION[model].tier ?? null, strategy: model });
        // Every tenant table, parents first: users before projects (an app may have more).
        assert.ok(header.tables.includes('users') && header.tables.includes('projects'), header.tables.join(', '));
        assert.ok(header.tables.indexOf('users') < header.tables.indexOf('projects'), header.tables.join(', '));
        // Under npm run test:extra-table the app has one more table: it is exported too.
        if (process.env.TEST_EXTRA_TABLE) assert.ok(header.tables.includes(process.env.TEST_EXTRA_TABLE), header.tables.join(', '));
        assert.ok(!Number.isNaN(Date.parse(header.exportedAt)));

        assert.equal(rows.length, 9);
        assert.ok(
          rows.every((l) => l.row.tenant_id === id),
          'only the tenant’s rows',
        );
        const tables = rows.map((l) => l.table);
        assert.deepEqual(tables, [...Array(5).fill('users'), ...Array(4).fill('projects')], 'users (parents) before projects');
        const userIds = rows.filter((l) => l.table === 'users').map((l) => l.row.id);
        const projectIds = rows.filter((l) => l.table === 'projects').map((l) => l.row.id);
        assert.deepEqual(userIds, [...mine.users].sort(), 'every user, in key order');
        assert.deepEqual(projectIds, [...mine.projects].sort(), 'every project, in key order');
        const all = new Set([...userIds, ...projectIds]);
        assert.ok(
          [...theirs.users, ...theirs.projects].every((x) => !all.has(x)),
          'no row of the neighbour',
        );
        // Each row whole, as stored.
        const user0 = rows.find((l) => l.table === 'users' && l.row.email === `user0@${id}.test`).row;
        assert.deepEqual(Object.keys(user0).sort(), ['created_at', 'email', 'id', 'name', 'tenant_id', 'updated_at']);
        assert.equal(user0.name, `User 0 of ${id}`);
        const project0 = rows.find((l) => l.table === 'projects' && l.row.name === `Project 0 of ${id}`).row;
        assert.equal(project0.created_by_id, user0.id);
        assert.equal(project0.description, `about Project 0 of ${id}`);

        const inspected = await api().get(`/admin/tenants/${id}`);
        assert.ok(inspected.body.exportedAt, 'the export is recorded');
      });
    }

    it('exports a tenant without rows as its header line only', async () => {
      await provision('empty-one', 'schema');
      const { lines } = await exportOf('empty-one');
      assert.equal(lines.length, 1);
      assert.equal(lines[0].type, 'tenant');
    });
  });

  describe('delete', () => {
    for (const model of MODELS) {
      it(`refuses to delete a never-exported ${model} tenant (409); after an export nothing of it remains`, async () => {
        const id = `d-${model}`;
        const neighbour = `x-${model}`;
        await provision(id, model);
        await populate(id, 3, 2);
        const neighbourBefore = await footprint(neighbour);

        assertError(await api().delete(`/admin/tenants/${id}`), 409);
        assertError(await api().delete(`/admin/tenants/${id}?force=false`), 409);
        assertError(await api().delete(`/admin/tenants/${id}?force=yes`), 400);
        assert.equal((await request(t.http).get('/users').set(as(id))).body.items.length, 3, 'still served after the refusal');

        await exportOf(id);
        const res = await api().delete(`/admin/tenants/${id}`);
        assert.equal(res.status, 204, res.text);

        assertNothingLeft(await footprint(id), id);
        assert.deepEqual(await catalogRow(id), []);
        assert.deepEqual(await ledgerRow(id), []);
        assertError(await request(t.http).get('/users').set(as(id)), 404);
        assertError(await request(t.http).post('/users').set(as(id)).send({ email: 'ghost@x.test', name: 'Ghost' }), 404);
        assertError(await api().get(`/admin/tenants/${id}`), 404);
        assert.deepEqual(await footprint(neighbour), neighbourBefore, 'the neighbour is untouched');
      });

      it(`refuses to delete a ${model} tenant written after its export (an insert, then an update) until it is exported again`, async () => {
        const id = `w-${model}`;
        await provision(id, model);
        const made = await populate(id, 2, 1);
        const served = async () => (await request(t.http).get('/users').set(as(id))).body.items as { id: string; name: string }[];
        const refused = async (what: string) => {
          const res = await api().delete(`/admin/tenants/${id}`);
          assertError(res, 409);
          assert.match(res.body.message, /was written after its last export at .+: export it again, or delete with force/, what);
          assert.deepEqual(await catalogRow(id), [{ id, strategy: model, status: 'active' }], `${what}: back to active`);
        };

        await exportOf(id);
        const late = await createUser(id, `late@${id}.test`, 'Written after the export');
        await refused('an insert since the export');
        const users = await served();
        assert.deepEqual(users.map((u) => u.id).sort(), [...made.users, late.id].sort(), 'every row is still served');

        const { lines } = await exportOf(id);
        assert.ok(
          lines.some((l) => l.table === 'users' && l.row.id === late.id),
          'the new export holds the late row',
        );
        const patched = await request(t.http).patch(`/users/${made.users[0]}`).set(as(id)).send({ name: 'Renamed after the export' });
        assert.equal(patched.status, 200, patched.text);
        await refused('an update of an exported row');
        assert.equal((await served()).find((u) => u.id === made.users[0])?.name, 'Renamed after the export');

        const again = await exportOf(id);
        assert.equal(again.lines.find((l) => l.table === 'users' && l.row.id === made.users[0])?.row.name, 'Renamed after the export');
        const res = await api().delete(`/admin/tenants/${id}`);
        assert.equal(res.status, 204, res.text);
        assertNothingLeft(await footprint(id), id);
        assert.deepEqual(await catalogRow(id), []);
      });

      it(`deletes a ${model} tenant written after its export with ?force=true`, async () => {
        const id = `wf-${model}`;
        await provision(id, model);
        await populate(id, 2, 1);
        await exportOf(id);
        await createUser(id, `late@${id}.test`);
        const res = await api().delete(`/admin/tenants/${id}?force=true`);
        assert.equal(res.status, 204, res.text);
        assertNothingLeft(await footprint(id), id);
        assert.deepEqual(await catalogRow(id), []);
      });

      it(`deletes a never-exported ${model} tenant with ?force=true`, async () => {
        const id = `f-${model}`;
        await provision(id, model);
        await populate(id, 2, 1);
        const res = await api().delete(`/admin/tenants/${id}?force=true`);
        assert.equal(res.status, 204, res.text);
        assertNothingLeft(await footprint(id), id);
        assert.deepEqual(await catalogRow(id), []);
        assertError(await request(t.http).get('/users').set(as(id)), 404);
        // The id is free again: a new tenant by that name starts empty.
        await provision(id, model);
        assert.deepEqual((await request(t.http).get('/users').set(as(id))).body.items, []);
      });
    }
  });
});
