// The resolver chain end to end, through the real service: header, subdomain, path prefix and a
// verified JWT; refused tokens; the JWT as the authority (production); suspended tenants; the
// paths served without a tenant.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import request from 'supertest';
import { TenantCatalog } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';

const SECRET = 'resolution-suite-secret-0123456789abcdef';
const OTHER_SECRET = 'another-secret-that-is-long-enough-000000';
const TENANTS = [
  { id: 'acme', name: 'Acme Corp', strategy: 'database' as const },
  { id: 'widget', name: 'Widget Inc', strategy: 'schema' as const },
  { id: 'gadget', name: 'Gadget LLC', strategy: 'shared' as const },
];

function sign(claims: JWTPayload, options: { secret?: string; alg?: string; expiresAt?: number | string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function assertError(res: request.Response, status: number, message: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'statusCode'], res.text);
  assert.equal(res.body.statusCode, status);
  assert.match(res.body.message, message);
  assert.doesNotMatch(res.text, /JWS|JWT[A-Z]|ERR_JW|signature verification|\n\s+at /, 'a token error leaked jose internals');
}

/** Starts the service with JWT_SECRET (and `nodeEnv`), and creates one user per tenant. */
async function start(nodeEnv: string): Promise<{ t: TestApp; users: Record<string, string> }> {
  const previous = process.env.NODE_ENV;
  let t: TestApp;
  try {
    // NODE_ENV is read when the tenancy options are built, as the app starts.
    // Production needs its key-encryption key (TENANCY_KEKS); elsewhere the development one serves.
    const keks: Record<string, string> = nodeEnv === 'production' ? { TENANCY_KEKS: `k1:${Buffer.alloc(32, 1).toString('base64')}` } : {};
    t = await startTestApp({ tenants: TENANTS, env: { JWT_SECRET: SECRET, NODE_ENV: nodeEnv, ...keks } });
  } finally {
    process.env.NODE_ENV = previous;
  }
  const users: Record<string, string> = {};
  for (const { id } of TENANTS) {
    // In production a token is required (resolution.jwt.required defaults to on there).
    const as = nodeEnv === 'production' ? bearer(await sign({ tenant_id: id })) : { 'X-Tenant-ID': id };
    const res = await request(t.http)
      .post('/users')
      .set(as)
      .send({ email: `owner@${id}.example.com`, name: `Owner of ${id}` });
    assert.equal(res.status, 201, res.text);
    users[id] = res.body.id;
  }
  return { t, users };
}

describe('tenant resolution (JWT not authoritative)', () => {
  let t: TestApp;
  let users: Record<string, string>;
  beforeAll(async () => ({ t, users } = await start('test')));
  afterAll(async () => t?.close());

  /** Which tenant served the request: each tenant's user is visible to that tenant only. */
  async function servedAs(req: request.Test): Promise<string> {
    const res = await req;
    assert.equal(res.status, 200, res.text);
    const ids = res.body.items.map((u: { id: string }) => u.id);
    const owner = Object.entries(users).filter(([, id]) => ids.includes(id));
    assert.equal(owner.length, 1, `expected one tenant's rows, got ${JSON.stringify(res.body)}`);
    return owner[0][0];
  }

  it('resolves each tenant from the X-Tenant-ID header', async () => {
    for (const { id } of TENANTS) assert.equal(await servedAs(request(t.http).get('/users').set('X-Tenant-ID', id)), id);
    const user = await request(t.http).get(`/users/${users.acme}`).set('X-Tenant-ID', 'acme');
    assert.equal(user.status, 200);
    assert.equal(user.body.email, 'owner@acme.example.com');
    assert.equal((await request(t.http).get(`/users/${users.acme}`).set('X-Tenant-ID', 'widget')).status, 404);
  });

  it('resolves each tenant from the subdomain of the base domain, with or without a port', async () => {
    for (const { id } of TENANTS) {
      assert.equal(await servedAs(request(t.http).get('/users').set('Host', `${id}.localhost:3000`)), id);
      assert.equal(await servedAs(request(t.http).get('/users').set('Host', `${id}.localhost`)), id);
    }
    assert.equal((await request(t.http).get(`/users/${users.acme}`).set('Host', 'gadget.localhost:3000')).status, 404);
    // The base domain alone, or another domain, names no tenant.
    assertError(
      await request(t.http).get('/users').set('Host', 'localhost:3000'),
      400,
      /No tenant given\. Name the tenant with [^.]+ or [^.]+\.$/,
    );
    assertError(await request(t.http).get('/users').set('Host', 'acme.example.com'), 400, /No tenant given/);
    assertError(await request(t.http).get('/users').set('Host', 'acme.localhost.evil.com'), 400, /No tenant given/);
  });

  it('resolves each tenant from the /t/<id>/ path prefix, and routes the rest of the path with its query', async () => {
    for (const { id } of TENANTS) assert.equal(await servedAs(request(t.http).get(`/t/${id}/users`)), id);
    const user = await request(t.http).get(`/t/acme/users/${users.acme}`);
    assert.equal(user.status, 200);
    assert.equal(user.body.id, users.acme);
    await request(t.http).post('/t/acme/users').send({ email: 'second@acme.example.com', name: 'Second' }).expect(201);
    const page = await request(t.http).get('/t/acme/users?limit=1');
    assert.equal(page.status, 200);
    assert.equal(page.body.items.length, 1);
    assert.equal(typeof page.body.nextCursor, 'string');
    assert.equal((await request(t.http).get(`/t/widget/users/${users.acme}`)).status, 404);
  });

  it('two sources naming different tenants are 400 naming both sources; sources that agree are served; every source is format-checked', async () => {
    const conflict = await request(t.http).get('/t/gadget/users').set('X-Tenant-ID', 'widget');
    assertError(conflict, 400, /x-tenant-id header names tenant 'widget' but a path prefix \/t\/<tenant>\/ names tenant 'gadget'/);
    assertError(
      await request(t.http).get('/t/gadget/users').set('Host', 'acme.localhost'),
      400,
      /subdomain of localhost names tenant 'acme' but a path prefix/,
    );
    const token = await sign({ tenant_id: 'gadget' });
    assertError(
      await request(t.http).get('/t/acme/users').set(bearer(token)).set('X-Tenant-ID', 'widget'),
      400,
      /claim of a bearer token names tenant 'gadget' but the x-tenant-id header names tenant 'widget'/,
    );
    // A write with conflicting sources writes nowhere.
    assertError(
      await request(t.http).post('/t/gadget/users').set('X-Tenant-ID', 'widget').send({ email: 'conflict@example.com', name: 'Conflict' }),
      400,
      /names tenant/,
    );
    for (const id of ['gadget', 'widget'])
      assert.deepEqual((await request(t.http).get('/users').query({ q: 'conflict' }).set('X-Tenant-ID', id)).body.items, []);
    assert.equal(
      await servedAs(
        request(t.http).get('/t/gadget/users').set('X-Tenant-ID', 'gadget').set('Host', 'gadget.localhost').set(bearer(token)),
      ),
      'gadget',
    );
    assertError(await request(t.http).get('/t/Not_Valid/users').set('X-Tenant-ID', 'acme'), 400, /path prefix .* is malformed/);
    assertError(
      await request(t.http).get('/users').set('X-Tenant-ID', 'acme').set('Host', 'ac_me.localhost'),
      400,
      /subdomain .* is malformed/,
    );
  });

  it('resolves the tenant_id claim of a valid HS256 token', async () => {
    for (const { id } of TENANTS) {
      const token = await sign({ sub: 'user-1', tenant_id: id });
      assert.equal(await servedAs(request(t.http).get('/users').set(bearer(token))), id);
    }
    const token = await sign({ tenant_id: 'acme' });
    assert.equal((await request(t.http).get(`/users/${users.acme}`).set(bearer(token))).status, 200);
    assert.equal((await request(t.http).get(`/users/${users.widget}`).set(bearer(token))).status, 404);
    // The auth scheme is case-insensitive (RFC 9110 §11.1).
    assert.equal(await servedAs(request(t.http).get('/users').set('Authorization', `bearer ${token}`)), 'acme');
  });

  it('a token without the claim names no tenant; other sources still can', async () => {
    const token = await sign({ sub: 'user-1' });
    assertError(await request(t.http).get('/users').set(bearer(token)), 400, /No tenant given/);
    assert.equal(await servedAs(request(t.http).get('/users').set(bearer(token)).set('X-Tenant-ID', 'widget')), 'widget');
  });

  it('a tenant claim that is not a string (null, 42, ["acme"], an object) is 401, even for a tenant named "null"', async () => {
    for (const claim of [null, 42, ['acme'], { id: 'acme' }, true]) {
      const token = await sign({ tenant_id: claim as any });
      assertError(await request(t.http).get('/users').set(bearer(token)), 401, /"tenant_id" claim of the bearer token is not a string/);
      // Never dropped in favour of another source either.
      assertError(await request(t.http).get('/users').set(bearer(token)).set('X-Tenant-ID', 'acme'), 401, /is not a string/);
    }
  });

  it('a verified claim is still checked: malformed is 400, unknown is 404', async () => {
    assertError(
      await request(t.http)
        .get('/users')
        .set(bearer(await sign({ tenant_id: 'ACME' }))),
      400,
      /claim of a bearer token is malformed/,
    );
    assertError(
      await request(t.http)
        .get('/users')
        .set(bearer(await sign({ tenant_id: "acme' OR '1'='1" }))),
      400,
      /malformed/,
    );
    assertError(
      await request(t.http)
        .get('/users')
        .set(bearer(await sign({ tenant_id: 'initech' }))),
      404,
      /Tenant 'initech' does not exist/,
    );
  });

  it('a bad signature, an expired token, alg "none" and a malformed Authorization header are 401', async () => {
    const valid = await sign({ tenant_id: 'acme' });
    const [header, , signature] = valid.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ tenant_id: 'widget', exp: Math.floor(Date.now() / 1000) + 300 })).toString(
      'base64url',
    );
    const refused = [
      await sign({ tenant_id: 'acme' }, { secret: OTHER_SECRET }),
      `${header}.${forgedPayload}.${signature}`,
      `${valid.slice(0, -4)}AAAA`,
      await sign({ tenant_id: 'acme' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 }),
      new UnsecuredJWT({ tenant_id: 'acme' }).setIssuedAt().setExpirationTime('5m').encode(),
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${valid.split('.')[1]}.${signature}`,
      `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.bm90IGpzb24.${signature}`,
    ];
    for (const token of refused) {
      for (const req of [
        () => request(t.http).get('/users').set(bearer(token)),
        // A refused token is never ignored in favour of another source.
        () => request(t.http).get('/users').set(bearer(token)).set('X-Tenant-ID', 'acme'),
        () => request(t.http).post('/t/acme/users').set(bearer(token)).send({ email: 'forged@example.com', name: 'Forged' }),
      ]) {
        const res = await req();
        assertError(res, 401, /bearer token is invalid or expired/);
        assert.equal(res.body.error, 'Unauthorized');
      }
    }
    for (const authorization of [
      'Bearer',
      'Bearer not-a-jwt',
      `Bearer ${valid} extra`,
      `Bearer ${valid}.x`,
      'Basic dXNlcjpwYXNz',
      `Token ${valid}`,
      valid,
      'Bearer a.b',
    ]) {
      assertError(
        await request(t.http).get('/users').set('Authorization', authorization).set('X-Tenant-ID', 'acme'),
        401,
        /bearer token is invalid/,
      );
    }
    // Nothing was written by the refused POSTs.
    const list = await request(t.http).get('/users').query({ q: 'forged' }).set('X-Tenant-ID', 'acme');
    assert.deepEqual(list.body.items, []);
  });

  it('a suspended tenant is 403 at once, by every source, for reads and writes; resumed, it is served again', async () => {
    const catalog = t.app.get(TenantCatalog);
    const token = await sign({ tenant_id: 'gadget' });
    const requests = [
      () => request(t.http).get('/users').set('X-Tenant-ID', 'gadget'),
      () => request(t.http).get('/users').set('Host', 'gadget.localhost:3000'),
      () => request(t.http).get('/t/gadget/users'),
      () => request(t.http).get('/users').set(bearer(token)),
      () => request(t.http).get(`/users/${users.gadget}`).set('X-Tenant-ID', 'gadget'),
      () => request(t.http).post('/users').set('X-Tenant-ID', 'gadget').send({ email: 'while-suspended@example.com', name: 'Suspended' }),
      () => request(t.http).delete(`/users/${users.gadget}`).set('X-Tenant-ID', 'gadget'),
    ];
    try {
      await catalog.setStatus('gadget', 'suspended');
      for (const send of requests) {
        const res = await send();
        assertError(res, 403, /Tenant 'gadget' is suspended/);
        assert.equal(res.body.error, 'Forbidden');
      }
      // Other tenants are untouched.
      assert.equal(await servedAs(request(t.http).get('/users').set('X-Tenant-ID', 'widget')), 'widget');
    } finally {
      await catalog.setStatus('gadget', 'active');
    }
    assert.equal(await servedAs(request(t.http).get('/users').set('X-Tenant-ID', 'gadget')), 'gadget');
    assert.equal(await servedAs(request(t.http).get('/users').set(bearer(token))), 'gadget');
    const user = await request(t.http).get(`/users/${users.gadget}`).set('X-Tenant-ID', 'gadget');
    assert.equal(user.status, 200, 'the suspended DELETE must not have run');
    const list = await request(t.http).get('/users').query({ q: 'while-suspended' }).set('X-Tenant-ID', 'gadget');
    assert.deepEqual(list.body.items, [], 'the suspended POST must not have run');
  });

  it('a tenant being moved serves reads and answers writes with 503 and Retry-After', async () => {
    const catalog = t.app.get(TenantCatalog);
    try {
      await catalog.setStatus('widget', 'moving');
      assert.equal(await servedAs(request(t.http).get('/users').set('X-Tenant-ID', 'widget')), 'widget');
      const write = await request(t.http)
        .post('/users')
        .set('X-Tenant-ID', 'widget')
        .send({ email: 'while-moving@example.com', name: 'Moving' });
      assertError(write, 503, /being moved/);
      assert.equal(write.headers['retry-after'], '2');
    } finally {
      await catalog.setStatus('widget', 'active');
    }
    await request(t.http).post('/users').set('X-Tenant-ID', 'widget').send({ email: 'after-move@example.com', name: 'Moved' }).expect(201);
  });

  it('/health and /docs need no tenant and ignore tenant sources; other paths do not', async () => {
    const live = await request(t.http).get('/health');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok' });
    const ready = await request(t.http).get('/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
    const docs = await request(t.http).get('/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.headers['content-type'], /text\/html/);
    // Excluded paths do not resolve at all: a junk id, an unknown tenant or a bad token is not an error there.
    for (const [name, value] of [
      ['X-Tenant-ID', "'; DROP TABLE users; --"],
      ['X-Tenant-ID', 'no-such-tenant'],
      ['Authorization', 'Bearer not-a-jwt'],
      ['Host', 'BAD_HOST.localhost'],
    ]) {
      assert.equal((await request(t.http).get('/health').set(name, value)).status, 200, `${name}: ${value}`);
      assert.equal((await request(t.http).get('/health/ready').set(name, value)).status, 200, `${name}: ${value}`);
      assert.equal((await request(t.http).get('/docs').set(name, value)).status, 200, `${name}: ${value}`);
    }
    // The exclusion is by path segment, not by string prefix.
    for (const path of ['/healthz', '/health-check', '/docsx', '/users']) {
      assertError(await request(t.http).get(path), 400, /No tenant given/);
    }
  });
});

describe('tenant resolution with the JWT authoritative (NODE_ENV=production)', () => {
  let t: TestApp;
  let users: Record<string, string>;
  beforeAll(async () => ({ t, users } = await start('production')));
  afterAll(async () => t?.close());

  it('a token alone resolves its tenant', async () => {
    const token = await sign({ tenant_id: 'acme' });
    const res = await request(t.http).get(`/users/${users.acme}`).set(bearer(token));
    assert.equal(res.status, 200, res.text);
    assert.equal((await request(t.http).get(`/users/${users.widget}`).set(bearer(token))).status, 404);
  });

  it('without a token every tenant route is 401 with one body: existing, unknown and suspended tenants look the same, and nothing is written', async () => {
    const catalog = t.app.get(TenantCatalog);
    await catalog.setStatus('gadget', 'suspended');
    const bodies = new Set<string>();
    try {
      for (const tenant of ['acme', 'widget', 'gadget', 'initech']) {
        for (const send of [
          () => request(t.http).get('/users').set('X-Tenant-ID', tenant),
          () => request(t.http).get(`/users/${users.acme}`).set('Host', `${tenant}.localhost:3000`),
          () => request(t.http).get(`/t/${tenant}/users`),
          () => request(t.http).post('/users').set('X-Tenant-ID', tenant).send({ email: 'tokenless@example.com', name: 'No token' }),
        ]) {
          const res = await send();
          assertError(res, 401, /needs a bearer token that names your tenant/);
          assert.equal(res.headers['cache-control'], 'private, no-store');
          bodies.add(res.text);
        }
      }
      // A token without the tenant claim does not open the header's tenant either.
      assertError(
        await request(t.http)
          .get('/users')
          .set(bearer(await sign({ sub: 'user-1' })))
          .set('X-Tenant-ID', 'acme'),
        401,
        /needs a bearer token/,
      );
    } finally {
      await catalog.setStatus('gadget', 'active');
    }
    assert.equal(bodies.size, 1, `one body for every tenant: ${[...bodies].join(' / ')}`);
    const list = await request(t.http)
      .get('/users')
      .query({ q: 'tokenless' })
      .set(bearer(await sign({ tenant_id: 'acme' })));
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items, []);
  });

  it('a header, subdomain or path naming another tenant than the token is 403, and nothing is written', async () => {
    const token = await sign({ tenant_id: 'acme' });
    for (const send of [
      () => request(t.http).get(`/users/${users.widget}`).set(bearer(token)).set('X-Tenant-ID', 'widget'),
      () => request(t.http).get('/users').set(bearer(token)).set('Host', 'widget.localhost:3000'),
      () => request(t.http).get('/t/widget/users').set(bearer(token)),
      () =>
        request(t.http)
          .post('/users')
          .set(bearer(token))
          .set('X-Tenant-ID', 'gadget')
          .send({ email: 'conflict@example.com', name: 'Conflict' }),
      () => request(t.http).post('/t/gadget/users').set(bearer(token)).send({ email: 'conflict@example.com', name: 'Conflict' }),
      // Even when the other source comes first in the chain's reading of the request.
      () => request(t.http).get('/t/acme/users').set(bearer(token)).set('X-Tenant-ID', 'widget'),
    ]) {
      const res = await send();
      assertError(res, 403, /names a different tenant than your token/);
      assert.equal(res.body.error, 'Forbidden');
    }
    for (const tenant of ['acme', 'gadget']) {
      const list = await request(t.http)
        .get('/users')
        .query({ q: 'conflict' })
        .set(bearer(await sign({ tenant_id: tenant })));
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, []);
    }
  });

  it('other sources naming the same tenant as the token are fine', async () => {
    const token = await sign({ tenant_id: 'acme' });
    const sameHeader = await request(t.http).get(`/users/${users.acme}`).set(bearer(token)).set('X-Tenant-ID', 'acme');
    assert.equal(sameHeader.status, 200, sameHeader.text);
    const allSame = await request(t.http)
      .get(`/t/acme/users/${users.acme}`)
      .set(bearer(token))
      .set('X-Tenant-ID', 'acme')
      .set('Host', 'acme.localhost:3000');
    assert.equal(allSame.status, 200, allSame.text);
    await request(t.http)
      .post('/users')
      .set(bearer(token))
      .set('X-Tenant-ID', 'acme')
      .send({ email: 'agreed@example.com', name: 'Agreed' })
      .expect(201);
  });

  it('a bad token is still 401, whatever the other sources say', async () => {
    const forged = await sign({ tenant_id: 'acme' }, { secret: OTHER_SECRET });
    assertError(await request(t.http).get('/users').set(bearer(forged)).set('X-Tenant-ID', 'acme'), 401, /invalid or expired/);
    const expired = await sign({ tenant_id: 'acme' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 });
    assertError(await request(t.http).get('/users').set(bearer(expired)), 401, /invalid or expired/);
  });
});
