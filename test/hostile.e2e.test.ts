// Hostile input through the real service, against a tenant of each model: bodies nested thousands
// deep, tenant claims that are not strings (with tenants actually named "null" and "42"),
// absolute-form request lines whose host disagrees with Host, the cache headers of tenant answers,
// and a bad environment at start. Stored data is checked through owner connections.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { JWTPayload, SignJWT } from 'jose';
import request from 'supertest';
import type { IsolationModel } from '../libs/tenancy/src';
import { rowsOf, snapshotData } from './support/db-snapshot';
import { listen, rawRequest } from './support/raw-http';
import { startTestApp, TestApp } from './support/test-app';
import { compiledDir } from './support/compiled-dir';

const SECRET = 'hostile-suite-secret-0123456789abcdef';
const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const TENANT: Record<IsolationModel, string> = { shared: 'hx-shared', schema: 'hx-schema', database: 'hx-database' };
/** Tenants whose ids are what String() makes of non-string claims. */
const DECOYS = [
  { id: 'null', strategy: 'shared' as const },
  { id: '42', strategy: 'schema' as const },
];

const sign = (claims: JWTPayload) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));

function assertError(
  res: { status: number; text: string; headers: Record<string, string>; body: any },
  status: number,
  message: RegExp,
): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body ?? {}).sort(), ['error', 'message', 'statusCode'], res.text);
  assert.match(String(res.body.message), message);
  assert.doesNotMatch(res.text, /Maximum call stack|RangeError|\n\s+at\s|node_modules/);
}

const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const userBody = (z: string) => `{"email":"deep@example.com","name":"x","z":${z}}`;

describe('hostile input', () => {
  let t: TestApp;
  let port: number;
  const owners: Record<string, string> = {};
  const snapshot = () => snapshotData(t.controlDatabase, t.databasePrefix);

  beforeAll(async () => {
    t = await startTestApp({
      tenants: [
        ...MODELS.map((model) => ({ id: TENANT[model], name: `Hostile ${model}`, strategy: model })),
        ...DECOYS.map((d) => ({ ...d, name: `Decoy ${d.id}` })),
      ],
      env: { JWT_SECRET: SECRET, NODE_ENV: 'test' },
    });
    port = await listen(t.http);
    for (const id of [...Object.values(TENANT), ...DECOYS.map((d) => d.id)]) {
      const res = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', id)
        .send({ email: `owner@${id}.example.com`, name: `Owner of ${id}` });
      assert.equal(res.status, 201, res.text);
      owners[id] = res.body.id;
    }
  });
  afterAll(async () => t?.close());

  /** Which tenant's rows a 200 list holds. */
  function servedAs(res: { status: number; text: string; body: any }): string {
    assert.equal(res.status, 200, res.text);
    const ids = res.body.items.map((u: { id: string }) => u.id);
    const served = Object.entries(owners).filter(([, id]) => ids.includes(id));
    assert.equal(served.length, 1, res.text);
    return served[0][0];
  }

  it('a body nested 2,000 deep (arrays and objects) is 400 before validation, in every model, and nothing is written', async () => {
    const before = await snapshot();
    assert.equal(rowsOf(before, 'users'), 5);
    for (const model of MODELS) {
      for (const z of [nestedArrays(2_000), nestedObjects(2_000), nestedArrays(33), nestedObjects(33)]) {
        for (const [method, path] of [
          ['post', '/users'],
          ['patch', `/users/${owners[TENANT[model]]}`],
          ['post', '/projects'],
        ] as const) {
          const agent = request(t.http);
          const res = await agent[method](path).set('X-Tenant-ID', TENANT[model]).set('Content-Type', 'application/json').send(userBody(z));
          assertError(res, 400, /nested too deeply: at most 32 levels/);
        }
      }
    }
    assert.deepEqual(await snapshot(), before);
  });

  it('a body nested 100,000 deep is refused (413, over the size limit) and the process goes on serving', async () => {
    for (const z of [nestedArrays(100_000), nestedObjects(100_000)]) {
      const res = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', TENANT.database)
        .set('Content-Type', 'application/json')
        .send(userBody(z));
      assertError(res, 413, /too large/);
    }
    // 30,000 levels fit in 64 kB: refused for its depth.
    const fits = await request(t.http)
      .post('/users')
      .set('X-Tenant-ID', TENANT.database)
      .set('Content-Type', 'application/json')
      .send(userBody(nestedArrays(30_000)));
    assertError(fits, 400, /nested too deeply/);
    const ok = await request(t.http)
      .post('/users')
      .set('X-Tenant-ID', TENANT.database)
      .send({ email: 'after-deep@example.com', name: 'After' });
    assert.equal(ok.status, 201, ok.text);
  });

  it('a body with more than 1,000 array elements or keys is 400; 32 levels and small bodies are still validated as usual', async () => {
    const before = await snapshot();
    const many = `[${Array.from({ length: 1_001 }, () => '0').join(',')}]`;
    assertError(
      await request(t.http).post('/users').set('X-Tenant-ID', TENANT.shared).set('Content-Type', 'application/json').send(userBody(many)),
      400,
      /too many values: at most 1000/,
    );
    const keys = `{${Array.from({ length: 1_001 }, (_, i) => `"k${i}":0`).join(',')}}`;
    assertError(
      await request(t.http).post('/users').set('X-Tenant-ID', TENANT.shared).set('Content-Type', 'application/json').send(keys),
      400,
      /too many values/,
    );
    // Within the limits, the ValidationPipe answers (the extra property is refused by name).
    const within = await request(t.http)
      .post('/users')
      .set('X-Tenant-ID', TENANT.shared)
      .set('Content-Type', 'application/json')
      .send(userBody(nestedArrays(31)));
    assertError(within, 400, /property z should not exist/);
    assert.deepEqual(await snapshot(), before);
  });

  it('a tenant claim that is not a string is 401, and the tenants named "null" and "42" are not served', async () => {
    for (const claim of [null, 42, ['acme'], [TENANT.shared], true, { id: TENANT.shared }]) {
      const token = await sign({ tenant_id: claim as any });
      for (const path of ['/users', `/users/${owners.null}`, `/users/${owners['42']}`]) {
        assertError(
          await request(t.http).get(path).set('Authorization', `Bearer ${token}`),
          401,
          /"tenant_id" claim of the bearer token is not a string/,
        );
      }
      const write = await request(t.http)
        .post('/users')
        .set('Authorization', `Bearer ${token}`)
        .send({ email: 'claim@example.com', name: 'Claim' });
      assertError(write, 401, /not a string/);
    }
    // The string claims still work, for the decoys too.
    assert.equal(
      servedAs(
        await request(t.http)
          .get('/users')
          .set('Authorization', `Bearer ${await sign({ tenant_id: 'null' })}`),
      ),
      'null',
    );
    assert.equal(
      servedAs(
        await request(t.http)
          .get('/users')
          .set('Authorization', `Bearer ${await sign({ tenant_id: '42' })}`),
      ),
      '42',
    );
    for (const id of ['null', '42']) {
      assert.deepEqual((await request(t.http).get('/users').query({ q: 'claim' }).set('X-Tenant-ID', id)).body.items, []);
    }
  });

  it('an absolute-form request line is resolved from its own host and path, not the Host header', async () => {
    const listed = (head: string) => rawRequest(port, head, undefined, { halfClose: false });
    assert.equal(
      servedAs(await listed(`GET http://${TENANT.schema}.localhost/users HTTP/1.1\r\nHost: ${TENANT.shared}.localhost`)),
      TENANT.schema,
    );
    assert.equal(
      servedAs(await listed(`GET http://${TENANT.database}.localhost:3000/users?limit=5 HTTP/1.1\r\nHost: ${TENANT.shared}.localhost`)),
      TENANT.database,
    );
    // The path prefix of the target counts (and the target's bare base domain names no tenant).
    assert.equal(
      servedAs(await listed(`GET http://localhost/t/${TENANT.database}/users HTTP/1.1\r\nHost: ${TENANT.shared}.localhost`)),
      TENANT.database,
    );
    // A write lands in the target's tenant only.
    const body = Buffer.from(JSON.stringify({ email: 'absolute@example.com', name: 'Absolute' }));
    const created = await rawRequest(
      port,
      `POST http://${TENANT.schema}.localhost/users HTTP/1.1\r\nHost: ${TENANT.shared}.localhost\r\nContent-Type: application/json`,
      body,
      { halfClose: false },
    );
    assert.equal(created.status, 201, created.text);
    const find = (id: string) => request(t.http).get('/users').query({ q: 'absolute' }).set('X-Tenant-ID', id);
    assert.equal((await find(TENANT.schema)).body.items.length, 1);
    assert.deepEqual((await find(TENANT.shared)).body.items, []);
    // Excluded paths are recognised in absolute form too.
    const health = await listed(`GET http://localhost/health HTTP/1.1\r\nHost: ${TENANT.shared}.localhost`);
    assert.equal(health.status, 200, health.text);
  });

  it('every answer to a tenant request is Cache-Control: private, no-store, errors included; /health is not tenant-scoped', async () => {
    const as = (id: string) => ({ 'X-Tenant-ID': id });
    const answers = [
      await request(t.http).get('/users').set(as(TENANT.shared)),
      await request(t.http).get(`/users/${owners[TENANT.schema]}`).set(as(TENANT.schema)),
      await request(t.http).post('/users').set(as(TENANT.database)).send({ email: 'cache@example.com', name: 'Cache' }),
      await request(t.http).post('/users').set(as(TENANT.database)).send({ email: 'not-an-email' }),
      await request(t.http).get('/users').set(as('initech')),
      await request(t.http).get('/users'),
      await request(t.http).get('/t/a/users').set(as('b')),
    ];
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 201, 400, 404, 400, 400],
    );
    for (const res of answers) {
      assert.equal(res.headers['cache-control'], 'private, no-store', `${res.status} ${res.text}`);
      assert.equal(res.headers.vary, undefined);
    }
    assert.equal((await request(t.http).get('/health')).headers['cache-control'], undefined);
  });

  it('a route that opts in (@TenantCacheable) is privately cacheable and varies on the sources in use; its errors are not', async () => {
    const project = await request(t.http)
      .post('/projects')
      .set('X-Tenant-ID', TENANT.schema)
      .send({ name: 'Cached', createdById: owners[TENANT.schema] });
    assert.equal(project.status, 201, project.text);
    assert.equal(project.headers['cache-control'], 'private, no-store');
    const res = await request(t.http).get(`/projects/${project.body.id}`).set('X-Tenant-ID', TENANT.schema);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'private, max-age=10');
    assert.deepEqual(
      res.headers.vary.split(/,\s*/).map((v: string) => v.toLowerCase()),
      ['authorization', 'x-tenant-id', 'host'],
    );
    const missing = await request(t.http).get(`/projects/${project.body.id}`).set('X-Tenant-ID', TENANT.shared);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['cache-control'], 'private, no-store');
    assert.equal(missing.headers.vary, undefined);
  });
});

describe('a bad environment at start', () => {
  function run(entry: string, args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((ok, fail) => {
      const child = spawn(process.execPath, [resolve(compiledDir(__dirname), `../src/${entry}.js`), ...args], {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never',
          JWT_SECRET: '0123456789',
          NODE_ENV: 'production',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', fail);
      child.on('exit', (code) => {
        clearTimeout(timer);
        ok({ code, output });
      });
    });
  }

  for (const [entry, args] of [
    ['main', []],
    ['cli', ['list']],
    ['migrate', ['--status']],
  ] as const) {
    it(`${entry}: a 10-character JWT_SECRET prints the problem, one a line, and exits 1 without a stack trace`, async () => {
      const { code, output } = await run(entry, [...args]);
      assert.equal(code, 1, output);
      assert.match(output, /^Invalid environment:\n {2}- JWT_SECRET: JWT_SECRET must hold at least 32 characters\n?$/, output);
      assert.doesNotMatch(output, /^\s+at /m);
    });
  }
});
