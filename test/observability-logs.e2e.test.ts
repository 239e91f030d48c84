// Structured logs (pino through nestjs-pino): one JSON line per request with its id, tenant, model,
// route, status and duration; the tenant on every line logged inside a unit of work, in all three
// models (an HTTP request, and TenancyService.run); secrets never written.
import assert from 'node:assert/strict';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import { TenancyService, type IsolationModel } from '../libs/tenancy/src';
import { httpPlatformFromEnv } from '../src/config/app.config';
import { startTestApp, type TestApp } from './support/test-app';

/** Where a request refused before routing is counted: Fastify routes first, Express after the middleware. */
const REFUSED_ROUTE = httpPlatformFromEnv() === 'express' ? 'unmatched' : '/users';

type Line = Record<string, unknown> & { msg?: string; reqId?: string; tenant?: string; model?: string };

/** A pino destination that keeps every line, parsed. */
class Lines {
  readonly all: Line[] = [];
  write(chunk: string): void {
    for (const text of chunk.split('\n')) if (text.trim()) this.all.push(JSON.parse(text) as Line);
  }
  raw(): string {
    return this.all.map((l) => JSON.stringify(l)).join('\n');
  }
  of(reqId: string): Line[] {
    return this.all.filter((l) => l.reqId === reqId);
  }
}

const TENANTS: { id: string; model: IsolationModel; tier: string }[] = [
  { id: 'logs-db', model: 'database', tier: 'enterprise' },
  { id: 'logs-schema', model: 'schema', tier: 'pro' },
  { id: 'logs-shared', model: 'shared', tier: 'free' },
];

describe('structured logs', () => {
  const lines = new Lines();
  let t: TestApp;

  beforeAll(async () => {
    process.env.LOG_LEVEL = 'debug';
    t = await startTestApp({ tenants: TENANTS.map((x) => ({ id: x.id, name: x.id, tier: x.tier })), logDestination: lines });
  });
  afterAll(async () => {
    await t?.close();
    delete process.env.LOG_LEVEL;
  });

  /** Waits until the request line of `reqId` is written (it is written when the response ends). */
  async function requestLine(reqId: string): Promise<Line> {
    for (let i = 0; i < 100; i++) {
      const found = lines.of(reqId).find((l) => l.msg === 'request completed' || l.msg === 'request failed');
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no request line for ${reqId}`);
  }

  for (const { id, model, tier } of TENANTS) {
    it(`under the ${model} model, every line of a request carries its id and the tenant; one request line says route, status and duration`, async () => {
      const created = `${model}-create`;
      const res = await request(t.http)
        .post('/users')
        .set({ 'X-Tenant-ID': id, 'X-Request-Id': created })
        .send({ email: `ada@${id}.test`, name: 'Ada' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers['x-request-id'], created, 'the request id is echoed');
      const read = `${model}-read`;
      assert.equal((await request(t.http).get(`/users/${res.body.id}`).set({ 'X-Tenant-ID': id, 'X-Request-Id': read })).status, 200);
      const missing = `${model}-missing`;
      const gone = await request(t.http)
        .get('/users/00000000-0000-7000-8000-000000000000')
        .set({ 'X-Tenant-ID': id, 'X-Request-Id': missing });
      assert.equal(gone.status, 404);

      const expected = [
        { reqId: created, method: 'POST', route: '/users', status: 201 },
        { reqId: read, method: 'GET', route: '/users/:id', status: 200 },
        { reqId: missing, method: 'GET', route: '/users/:id', status: 404 },
      ];
      for (const e of expected) {
        const line = await requestLine(e.reqId);
        assert.equal(line.level, 'info');
        assert.equal(line.method, e.method);
        assert.equal(line.route, e.route);
        assert.equal(line.status, e.status);
        assert.equal(line.tenant, id);
        assert.equal(line.model, model);
        assert.equal(line.tier, tier);
        assert.equal(typeof line.durationMs, 'number');
        assert.equal(typeof line.dbMs, 'number');
        assert.ok((line.dbMs as number) > 0, 'the request queried the database');
        for (const l of lines.of(e.reqId)) {
          assert.equal(l.tenant, id, `every line of ${e.reqId} names the tenant: ${JSON.stringify(l)}`);
          assert.equal(l.model, model);
        }
      }
      // The service's own line inside the unit of work (debug), with the request id and the tenant.
      const inside = lines.of(created).find((l) => l.msg === `user ${res.body.id} created`);
      assert.ok(inside, `the service logged inside the request: ${JSON.stringify(lines.of(created))}`);
      assert.equal(inside.context, 'Users');
      assert.equal(inside.tenant, id);
    });

    it(`under the ${model} model, lines logged inside TenancyService.run carry the tenant, lines outside do not`, async () => {
      const logger = new Logger('Job');
      const marker = `job-${model}-${Date.now()}`;
      await t.app.get(TenancyService).run(id, async () => {
        logger.log(`${marker} inside`);
        await new Promise((r) => setTimeout(r, 5));
        logger.warn(`${marker} after an await`);
      });
      logger.log(`${marker} outside`);
      const mine = lines.all.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(marker));
      assert.equal(mine.length, 3);
      for (const l of mine.slice(0, 2)) {
        assert.equal(l.tenant, id, JSON.stringify(l));
        assert.equal(l.model, model);
        assert.equal(l.tier, tier);
        assert.equal(l.context, 'Job');
      }
      assert.equal(mine[2].tenant, undefined, 'outside a unit of work no tenant is claimed');
    });
  }

  it('a request refused before its tenant is known has its line, without a tenant', async () => {
    const reqId = 'unknown-tenant';
    const res = await request(t.http).get('/users').set({ 'X-Tenant-ID': 'no-such-tenant', 'X-Request-Id': reqId });
    assert.equal(res.status, 404);
    const line = await requestLine(reqId);
    assert.equal(line.status, 404);
    assert.equal(line.route, REFUSED_ROUTE);
    assert.equal(line.tenant, undefined);
    const health = 'health-check';
    assert.equal((await request(t.http).get('/health').set('X-Request-Id', health)).status, 200);
    assert.equal((await requestLine(health)).route, '/health');
  });

  it('a request id that is not a sane token is replaced by a UUID', async () => {
    const res = await request(t.http).get('/health').set('X-Request-Id', 'x'.repeat(200));
    assert.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  });

  it('redacts credentials: headers, tokens, cookies, query-string secrets and passwords in connection URLs', async () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.secret-jwt-body.signature-part';
    const res = await request(t.http)
      .get('/health?access_token=query-secret-123&limit=5')
      .set({ Authorization: `Bearer ${jwt}`, Cookie: 'session=cookie-secret-456', 'X-Request-Id': 'with-secrets' });
    assert.equal(res.status, 200);
    const line = await requestLine('with-secrets');
    assert.match(String(line.url), /access_token=\[Redacted\]&limit=5/);
    const logger = new Logger('Redaction');
    logger.log(
      { headers: { authorization: `Bearer ${jwt}`, cookie: 'session=cookie-secret-456' }, token: 'token-secret-789', user: 'ada' },
      'an object with secrets',
    );
    logger.warn('could not reach postgres://tenancy_owner:pg-password-000@db.internal:5432/app; retrying');
    logger.error(new Error('connect failed for redis://:redis-password-111@cache:6379/0'));
    const out = lines.raw();
    for (const secret of [
      'secret-jwt-body',
      'query-secret-123',
      'cookie-secret-456',
      'token-secret-789',
      'pg-password-000',
      'redis-password-111',
    ]) {
      assert.ok(!out.includes(secret), `${secret} was written to the log`);
    }
    assert.match(out, /postgres:\/\/tenancy_owner:\[Redacted\]@db\.internal:5432\/app/);
    const object = lines.all.find((l) => l.msg === 'an object with secrets') as
      { headers?: Record<string, string>; user?: string } | undefined;
    assert.equal(object?.headers?.authorization, '[Redacted]');
    assert.equal(object?.user, 'ada', 'what is not a secret stays');
  });
});
