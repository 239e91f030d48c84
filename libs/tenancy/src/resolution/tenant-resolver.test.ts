// The resolver chain on fake requests: order, first wins, path stripping, malformed candidates,
// no tenant at all, and how a Host header maps to a tenant.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { resolveTenancyOptions, TenancyModuleOptions } from '../config/tenancy-options';
import {
  InvalidTenantTokenError,
  MalformedTenantIdError,
  InvalidTenantClaimError,
  TenantConflictError,
  TenantMissingError,
  TenantSourcesConflictError,
  TenantTokenRequiredError,
} from '../errors/tenancy.errors';
import { ARRIVED_TARGET, arrivedTarget, toArrivedTarget, type TargetRequest } from './request-target';
import { TenantResolver } from './tenant-resolver';
import type { TenantRequest } from '../config/tenant-source';

const SECRET = 'a-test-secret-of-at-least-32-characters!';

function resolver(resolution: TenancyModuleOptions['resolution'] = {}): TenantResolver {
  return new TenantResolver(
    resolveTenancyOptions({
      databaseUrl: 'postgres://owner@localhost/control',
      catalog: { tiers: {}, tenants: [] },
      entities: [],
      migrations: [],
      resolution,
    }),
  );
}

function req(url = '/users', headers: Record<string, string | string[]> = {}): TenantRequest {
  return { url, headers, method: 'GET' };
}

function token(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));
}

async function rejectsWith(promise: Promise<unknown>, type: Function, status: number, message?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal((caught as { getStatus(): number }).getStatus(), status);
  if (message) assert.match((caught as Error).message, message);
  return caught as Error;
}

describe('TenantResolver: sources and order', () => {
  it('reads each source on its own', async () => {
    const r = resolver({ jwt: { secret: SECRET, authoritative: false } });
    assert.deepEqual(await r.resolve(req('/users', { 'x-tenant-id': 'acme' })), { id: 'acme', source: 'header' });
    assert.deepEqual(await r.resolve(req('/users', { host: 'acme.localhost:3000' })), { id: 'acme', source: 'subdomain' });
    assert.deepEqual(await r.resolve(req('/t/acme/users')), { id: 'acme', source: 'path' });
    const jwt = await token({ tenant_id: 'acme' });
    assert.deepEqual(await r.resolve(req('/users', { authorization: `Bearer ${jwt}` })), { id: 'acme', source: 'jwt' });
  });

  it("with onConflict 'first', the first source of the default order (jwt, header, subdomain, path) wins", async () => {
    const r = resolver({ onConflict: 'first', jwt: { secret: SECRET, authoritative: false } });
    const all = {
      authorization: `Bearer ${await token({ tenant_id: 'from-jwt' })}`,
      'x-tenant-id': 'from-header',
      host: 'from-host.localhost',
    };
    assert.equal((await r.resolve(req('/t/from-path/users', all))).id, 'from-jwt');
    const { authorization: _a, ...noJwt } = all;
    assert.deepEqual(await r.resolve(req('/t/from-path/users', noJwt)), { id: 'from-header', source: 'header' });
    const { 'x-tenant-id': _h, ...hostOnly } = noJwt;
    assert.deepEqual(await r.resolve(req('/t/from-path/users', hostOnly)), { id: 'from-host', source: 'subdomain' });
    assert.deepEqual(await r.resolve(req('/t/from-path/users')), { id: 'from-path', source: 'path' });
  });

  it('follows a configured order', async () => {
    const r = resolver({ order: ['path', 'subdomain', 'header'], onConflict: 'first' });
    const headers = { 'x-tenant-id': 'from-header', host: 'from-host.localhost' };
    assert.deepEqual(await r.resolve(req('/t/from-path/users', headers)), { id: 'from-path', source: 'path' });
    assert.deepEqual(await r.resolve(req('/users', headers)), { id: 'from-host', source: 'subdomain' });
    assert.deepEqual(await r.resolve(req('/users', { 'x-tenant-id': 'from-header' })), { id: 'from-header', source: 'header' });
  });

  it('ignores sources left out of the order', async () => {
    const r = resolver({ order: ['header'] });
    const request = req('/t/acme/users', { host: 'acme.localhost' });
    const err = await rejectsWith(r.resolve(request), TenantMissingError, 400);
    assert.match(err.message, /the x-tenant-id header/);
    assert.doesNotMatch(err.message, /path prefix|subdomain/);
    // The path is not a source here, so the URL is left alone.
    assert.equal(request.url, '/t/acme/users');
  });

  it('leaves out the JWT when no secret or JWKS is configured', async () => {
    const r = resolver({ order: ['jwt', 'header'] });
    const jwt = await token({ tenant_id: 'from-jwt' });
    assert.deepEqual(await r.resolve(req('/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'acme' })), {
      id: 'acme',
      source: 'header',
    });
  });

  it('uses a configured header name, case-insensitively', async () => {
    const r = resolver({ header: 'X-Org' });
    assert.deepEqual(await r.resolve(req('/users', { 'x-org': 'acme' })), { id: 'acme', source: 'header' });
    await rejectsWith(r.resolve(req('/users', { 'x-tenant-id': 'acme' })), TenantMissingError, 400, /the x-org header/);
  });

  it('reads a custom JWT claim', async () => {
    const r = resolver({ jwt: { secret: SECRET, claim: 'org', authoritative: false } });
    const jwt = await token({ org: 'acme', tenant_id: 'other' });
    assert.deepEqual(await r.resolve(req('/users', { authorization: `Bearer ${jwt}` })), { id: 'acme', source: 'jwt' });
  });

  it('an authoritative JWT wins over earlier sources and refuses a disagreeing one with 403', async () => {
    const r = resolver({ order: ['header', 'jwt', 'path'], jwt: { secret: SECRET, authoritative: true } });
    const jwt = await token({ tenant_id: 'acme' });
    assert.deepEqual(await r.resolve(req('/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'acme' })), {
      id: 'acme',
      source: 'jwt',
    });
    await rejectsWith(
      r.resolve(req('/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'widget' })),
      TenantConflictError,
      403,
      /header names a different tenant/,
    );
    await rejectsWith(r.resolve(req('/t/widget/users', { authorization: `Bearer ${jwt}` })), TenantConflictError, 403);
  });

  it('refuses a bearer token that does not verify with 401', async () => {
    const r = resolver({ jwt: { secret: SECRET, authoritative: false } });
    const forged = await token({ tenant_id: 'acme' }, 'another-secret-of-at-least-32-characters');
    await rejectsWith(r.resolve(req('/users', { authorization: `Bearer ${forged}`, 'x-tenant-id': 'acme' })), InvalidTenantTokenError, 401);
    await rejectsWith(r.resolve(req('/users', { authorization: 'Basic YTpi', 'x-tenant-id': 'acme' })), InvalidTenantTokenError, 401);
  });
});

describe('TenantResolver: path prefix', () => {
  it('strips the prefix so the routes stay the same', async () => {
    const r = resolver();
    const cases: [string, string][] = [
      ['/t/acme/users', '/users'],
      ['/t/acme/users/42?x=1', '/users/42?x=1'],
      ['/t/acme', '/'],
      ['/t/acme/', '/'],
      ['/t/acme?limit=5', '/?limit=5'],
    ];
    for (const [url, rest] of cases) {
      const request = req(url);
      assert.equal((await r.resolve(request)).id, 'acme', url);
      assert.equal(request.url, rest, url);
    }
  });

  it('strips the prefix even when another source wins', async () => {
    const request = req('/t/acme/users', { 'x-tenant-id': 'widget' });
    assert.deepEqual(await resolver({ onConflict: 'first' }).resolve(request), { id: 'widget', source: 'header' });
    assert.equal(request.url, '/users');
  });

  it('does not touch a URL without the prefix', async () => {
    for (const url of ['/users', '/tx/acme/users', '/T/acme/users', '/users/t/acme']) {
      const request = req(url, { 'x-tenant-id': 'acme' });
      assert.equal((await resolver().resolve(request)).source, 'header', url);
      assert.equal(request.url, url);
    }
  });

  it('uses a configured prefix, with or without slashes', async () => {
    for (const prefix of ['tenants', '/tenants/']) {
      const request = req('/tenants/acme/projects');
      assert.deepEqual(await resolver({ pathPrefix: prefix }).resolve(request), { id: 'acme', source: 'path' });
      assert.equal(request.url, '/projects');
    }
  });

  it('decodes a percent-encoded segment before checking it', async () => {
    const request = req('/t/%61cme/users');
    assert.equal((await resolver().resolve(request)).id, 'acme');
    await rejectsWith(resolver().resolve(req('/t/ac%2Fme/users')), MalformedTenantIdError, 400, /path prefix/);
    await rejectsWith(resolver().resolve(req('/t/%E0%A4%A/users')), MalformedTenantIdError, 400, /path prefix/);
  });
});

describe('TenantResolver.route: before a router that runs ahead of middleware (Fastify)', () => {
  it('strips the prefix for the router and keeps the target as it arrived for the middlewares', async () => {
    const request: TargetRequest = req('/t/acme/users?limit=5');
    resolver().route(request);
    assert.equal(request.url, '/users?limit=5');
    assert.equal(request[ARRIVED_TARGET], '/t/acme/users?limit=5');
    // A middleware mounted for every path sees "/" there; it gets the target back, then resolves.
    request.url = '/';
    toArrivedTarget(request);
    assert.equal(request.url, '/t/acme/users?limit=5');
    assert.deepEqual(await resolver().resolve(request), { id: 'acme', source: 'path' });
  });

  it('takes an absolute-form target to origin form first, its host becoming the Host header', () => {
    const request: TargetRequest = req('http://widget.localhost/t/acme/users', { host: 'gadget.localhost' });
    resolver().route(request);
    assert.equal(request.url, '/users');
    assert.equal(request.headers.host, 'widget.localhost');
    assert.equal(arrivedTarget(request), '/t/acme/users');
  });

  it('leaves the prefix of an excluded path, and every path when the path source is not in the order', () => {
    const excluded: TargetRequest = req('/t/acme/users');
    resolver({ exclude: ['/T'] }).route(excluded);
    assert.equal(excluded.url, '/t/acme/users');
    const withoutPath: TargetRequest = req('/t/acme/users');
    resolver({ order: ['header'] }).route(withoutPath);
    assert.equal(withoutPath.url, '/t/acme/users');
    assert.equal(withoutPath[ARRIVED_TARGET], '/t/acme/users');
  });
});

describe('TenantResolver: malformed and missing', () => {
  const BAD = ['ACME', 'ac_me', '-acme', 'acme-', 'a'.repeat(41), "acme'--", 'acme;drop', 'acmé', ''];

  it('refuses a malformed header, naming the header', async () => {
    for (const id of BAD) {
      await rejectsWith(
        resolver().resolve(req('/users', { 'x-tenant-id': id })),
        MalformedTenantIdError,
        400,
        /the x-tenant-id header is malformed/,
      );
    }
  });

  it('refuses a repeated header as malformed', async () => {
    await rejectsWith(resolver().resolve(req('/users', { 'x-tenant-id': ['acme', 'widget'] })), MalformedTenantIdError, 400);
  });

  it('refuses a malformed path segment, naming the path', async () => {
    for (const id of BAD.filter((b) => b !== '')) {
      await rejectsWith(
        resolver().resolve(req(`/t/${encodeURIComponent(id)}/users`)),
        MalformedTenantIdError,
        400,
        /path prefix \/t\/<tenant>\//,
      );
    }
    await rejectsWith(resolver().resolve(req('/t//users')), MalformedTenantIdError, 400);
  });

  it('refuses a malformed subdomain, naming the subdomain', async () => {
    for (const host of ['ac_me.localhost', '-acme.localhost', `${'a'.repeat(41)}.localhost`, 'www.acme.localhost', '.localhost']) {
      await rejectsWith(resolver().resolve(req('/users', { host })), MalformedTenantIdError, 400, /a subdomain of localhost/);
    }
  });

  it('refuses a malformed JWT claim, naming the claim', async () => {
    const r = resolver({ jwt: { secret: SECRET, authoritative: false } });
    for (const claim of ['ACME', 'a'.repeat(41), 'acme widget']) {
      const jwt = await token({ tenant_id: claim });
      await rejectsWith(r.resolve(req('/users', { authorization: `Bearer ${jwt}` })), MalformedTenantIdError, 400, /"tenant_id" claim/);
    }
  });

  it('checks every source, so a malformed later source is refused even when an earlier one is fine', async () => {
    await rejectsWith(resolver().resolve(req('/t/ACME/users', { 'x-tenant-id': 'acme' })), MalformedTenantIdError, 400, /path prefix/);
  });

  it('with no source, says which sources it tried', async () => {
    const err = await rejectsWith(
      resolver({ jwt: { secret: SECRET } }).resolve(req('/users', { host: 'localhost:3000' })),
      TenantMissingError,
      400,
    );
    assert.match(
      err.message,
      /"tenant_id" claim of a bearer token, the x-tenant-id header, a subdomain of localhost or a path prefix \/t\/<tenant>\//,
    );
  });
});

describe('TenantResolver: subdomains', () => {
  const fromHost = async (host: string, baseDomain?: string) => {
    const r = resolver({ order: ['subdomain'], baseDomain });
    try {
      return (await r.resolve(req('/users', { host }))).id;
    } catch (err) {
      if (err instanceof TenantMissingError) return undefined;
      throw err;
    }
  };

  it('takes the label under the base domain, with or without a port', async () => {
    assert.equal(await fromHost('acme.localhost'), 'acme');
    assert.equal(await fromHost('acme.localhost:3000'), 'acme');
    assert.equal(await fromHost('acme-2.example.com:8443', 'example.com'), 'acme-2');
  });

  it('is case-insensitive for the host and the base domain', async () => {
    assert.equal(await fromHost('ACME.LocalHost:3000'), 'acme');
    assert.equal(await fromHost('Acme.Example.COM', 'EXAMPLE.com'), 'acme');
  });

  it('finds no tenant on the bare base domain or another domain', async () => {
    assert.equal(await fromHost('localhost'), undefined);
    assert.equal(await fromHost('localhost:3000'), undefined);
    assert.equal(await fromHost('example.com', 'example.com'), undefined);
    assert.equal(await fromHost('acme.example.org', 'example.com'), undefined);
    assert.equal(await fromHost('acme.notexample.com', 'example.com'), undefined);
    assert.equal(await fromHost('acmeexample.com', 'example.com'), undefined);
    assert.equal(await fromHost('acme.example.com.evil.test', 'example.com'), undefined);
  });

  it('finds no tenant on an IP address', async () => {
    assert.equal(await fromHost('127.0.0.1'), undefined);
    assert.equal(await fromHost('127.0.0.1:3000'), undefined);
    assert.equal(await fromHost('[::1]:3000'), undefined);
    assert.equal(await fromHost('[::1]'), undefined);
  });

  it('refuses nested labels rather than guessing which one is the tenant', async () => {
    await assert.rejects(fromHost('www.acme.localhost'), MalformedTenantIdError);
    await assert.rejects(fromHost('a.b.example.com:80', 'example.com'), MalformedTenantIdError);
  });

  it('finds no tenant without a Host header', async () => {
    const r = resolver({ order: ['subdomain'] });
    await rejectsWith(r.resolve(req('/users')), TenantMissingError, 400);
  });
});

describe('TenantResolver: hostile sources', () => {
  it('refuses a tenant claim that is not a string with 401, never reading it as a string', async () => {
    const r = resolver({ jwt: { secret: SECRET, authoritative: false } });
    for (const claim of [null, 42, ['acme'], true, { id: 'acme' }]) {
      const jwt = await token({ tenant_id: claim });
      await rejectsWith(
        r.resolve(req('/users', { authorization: `Bearer ${jwt}` })),
        InvalidTenantClaimError,
        401,
        /"tenant_id" claim .* is not a string/,
      );
      // Not even in favour of another source.
      await rejectsWith(r.resolve(req('/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'acme' })), InvalidTenantClaimError, 401);
    }
  });

  it('by default refuses two sources naming different tenants with 400, naming both sources', async () => {
    const r = resolver({ jwt: { secret: SECRET, authoritative: false } });
    const err = await rejectsWith(r.resolve(req('/t/gadget/users', { 'x-tenant-id': 'widget' })), TenantSourcesConflictError, 400);
    assert.match(err.message, /x-tenant-id header names tenant 'widget' but a path prefix \/t\/<tenant>\/ names tenant 'gadget'/);
    const jwt = await token({ tenant_id: 'acme' });
    await rejectsWith(
      r.resolve(req('/users', { authorization: `Bearer ${jwt}`, host: 'gadget.localhost' })),
      TenantSourcesConflictError,
      400,
      /claim of a bearer token names tenant 'acme' but a subdomain of localhost names tenant 'gadget'/,
    );
    // Sources that agree are fine.
    assert.deepEqual(
      await r.resolve(req('/t/acme/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'acme', host: 'acme.localhost' })),
      { id: 'acme', source: 'jwt' },
    );
  });

  it('an authoritative JWT keeps its 403 for a disagreeing source, whatever onConflict says', async () => {
    for (const onConflict of ['reject', 'first'] as const) {
      const r = resolver({ onConflict, jwt: { secret: SECRET, authoritative: true } });
      const jwt = await token({ tenant_id: 'acme' });
      await rejectsWith(r.resolve(req('/users', { authorization: `Bearer ${jwt}`, 'x-tenant-id': 'widget' })), TenantConflictError, 403);
    }
  });

  it('with tokens required, no token (or one without the claim) is 401 before any other source is read', async () => {
    const r = resolver({ jwt: { secret: SECRET, required: true } });
    for (const headers of [{ 'x-tenant-id': 'acme' }, { 'x-tenant-id': 'NOT VALID' }, { host: 'widget.localhost' }, {}] as Record<
      string,
      string
    >[]) {
      await rejectsWith(r.resolve(req('/t/gadget/users', headers)), TenantTokenRequiredError, 401, /needs a bearer token/);
    }
    const claimless = await token({ sub: 'user-1' });
    await rejectsWith(
      r.resolve(req('/users', { authorization: `Bearer ${claimless}`, 'x-tenant-id': 'acme' })),
      TenantTokenRequiredError,
      401,
    );
    const jwt = await token({ tenant_id: 'acme' });
    assert.deepEqual(await r.resolve(req('/users', { authorization: `Bearer ${jwt}` })), { id: 'acme', source: 'jwt' });
  });

  it('requires a token by default only in production with a key', () => {
    const previous = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      const base = { databaseUrl: 'postgres://o@localhost/c', catalog: { tiers: {}, tenants: [] }, entities: [], migrations: [] };
      assert.equal(resolveTenancyOptions({ ...base, resolution: { jwt: { secret: SECRET } } }).resolution.jwt?.required, true);
      assert.equal(
        resolveTenancyOptions({ ...base, resolution: { jwt: { secret: SECRET, required: false } } }).resolution.jwt?.required,
        false,
      );
      assert.equal(resolveTenancyOptions({ ...base, resolution: {} }).resolution.jwt, undefined);
      process.env.NODE_ENV = 'development';
      assert.equal(resolveTenancyOptions({ ...base, resolution: { jwt: { secret: SECRET } } }).resolution.jwt?.required, false);
      assert.equal(resolveTenancyOptions({ ...base }).resolution.onConflict, 'reject');
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
});

describe('TenantResolver.peek (unverified, for shedding load only)', () => {
  it('names the tenant the header, path and subdomain sources agree on', () => {
    const r = resolver({ order: ['header', 'path', 'subdomain'], baseDomain: 'example.com' });
    assert.equal(r.peek(req('/users', { 'x-tenant-id': 'acme' })), 'acme');
    assert.equal(r.peek(req('/t/acme/users')), 'acme');
    assert.equal(r.peek(req('/users', { host: 'acme.example.com' })), 'acme');
    assert.equal(r.peek(req('/t/acme/users', { 'x-tenant-id': 'acme', host: 'acme.example.com' })), 'acme');
  });

  it('names no tenant when none is named, when sources disagree or when a candidate is malformed', () => {
    const r = resolver({ order: ['header', 'path'] });
    assert.equal(r.peek(req('/users')), undefined);
    assert.equal(r.peek(req('/t/gadget/users', { 'x-tenant-id': 'widget' })), undefined);
    assert.equal(r.peek(req('/users', { 'x-tenant-id': 'Not A Tenant' })), undefined);
    assert.equal(r.peek(req('/users', { 'x-tenant-id': ['acme', 'acme'] })), undefined);
  });

  it('leaves the path as it is (only resolve strips the prefix)', () => {
    const request = req('/t/acme/users');
    resolver({ order: ['path'] }).peek(request);
    assert.equal(request.url, '/t/acme/users');
  });

  it('names no tenant when a token could decide: tokens required, or the request carries one', () => {
    const optional = resolver({ order: ['jwt', 'header'], jwt: { secret: SECRET, required: false, authoritative: true } });
    assert.equal(optional.peek(req('/users', { 'x-tenant-id': 'acme' })), 'acme');
    assert.equal(optional.peek(req('/users', { 'x-tenant-id': 'acme', authorization: 'Bearer x.y.z' })), undefined);
    const required = resolver({ order: ['jwt', 'header'], jwt: { secret: SECRET, required: true } });
    assert.equal(required.peek(req('/users', { 'x-tenant-id': 'acme' })), undefined);
  });
});
