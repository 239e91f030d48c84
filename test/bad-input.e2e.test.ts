// Bad input, against a tenant of each model: every refusal is a clear 4xx `{statusCode, error,
// message}` with no stack trace and no driver or SQL text, and changes nothing anywhere (checked
// through owner connections: every table of every schema and database of the suite).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import type { IsolationModel } from '../libs/tenancy/src';
import { rowsOf, snapshotData } from './support/db-snapshot';
import { listen, rawRequest } from './support/raw-http';
import { startTestApp, TestApp } from './support/test-app';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const TENANT: Record<IsolationModel, string> = { shared: 'bi-shared', schema: 'bi-schema', database: 'bi-database' };
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
};

/** Text that must never reach a client: driver and ORM errors, SQL, internals, stack frames. */
const LEAK =
  /QueryFailedError|TypeORM|node_modules|\n\s+at\s|\bat\s+\S+\s+\(|\.[jt]s:\d+|syntax error|invalid input syntax|invalid byte sequence|violates|duplicate key|relation "|column "|SQLSTATE|current_setting|set_config|search_path|tenancy_shared|pg_catalog|incorrect header check|Z_DATA_ERROR|"stack"/i;

const SQL_INJECTION = [
  `' OR '1'='1`,
  `'; DROP TABLE users; --`,
  `1); DELETE FROM users; --`,
  `" OR ""="`,
  `\\'; SELECT pg_sleep(5); --`,
  `' UNION SELECT id, email, name, created_at, updated_at FROM users --`,
  `') OR tenant_id <> current_setting('app.tenant_id') --`,
  `$$; DROP SCHEMA tenancy CASCADE; $$`,
  `:after`,
  `$1`,
];

interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
}

/** A clean error: the status, JSON `{statusCode, error, message}` and nothing else, no leak. */
function assertError(res: ErrorResponse, status: number, message?: RegExp): void {
  const context = `${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, context);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, context);
  assert.deepEqual(Object.keys(res.body ?? {}).sort(), ['error', 'message', 'statusCode'], context);
  assert.equal(res.body.statusCode, status, context);
  if (REASONS[status]) assert.equal(res.body.error, REASONS[status], context);
  const messages: unknown[] = Array.isArray(res.body.message) ? res.body.message : [res.body.message];
  assert.ok(messages.length > 0 && messages.every((m) => typeof m === 'string' && m.length > 0), context);
  assert.doesNotMatch(res.text, LEAK, context);
  if (message) assert.match(messages.join(' | '), message, context);
}

/** Seeded PRNG (mulberry32), so the randomized run is the same every time. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('bad input', () => {
  let t: TestApp;
  let port: number;
  const seeded: Record<IsolationModel, { users: { id: string; email: string; name: string }[]; project: { id: string } }> = {} as any;

  const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });
  const snapshot = () => snapshotData(t.controlDatabase, t.databasePrefix);

  /** Runs `fn` and checks that no row, table, schema or database changed meanwhile. */
  async function unchanged(fn: () => Promise<void>): Promise<void> {
    const before = await snapshot();
    await fn();
    assert.deepEqual(await snapshot(), before, 'bad input changed stored data');
  }

  beforeAll(async () => {
    t = await startTestApp({
      tenants: MODELS.map((model) => ({ id: TENANT[model], name: `Bad input ${model}`, strategy: model })),
    });
    port = await listen(t.http);
    for (const model of MODELS) {
      const users = [];
      for (const name of ['Alice', 'Bob']) {
        const res = await request(t.http)
          .post('/users')
          .set(as(TENANT[model]))
          .send({ email: `${name.toLowerCase()}@${model}.example.com`, name });
        assert.equal(res.status, 201, res.text);
        users.push(res.body);
      }
      const project = await request(t.http).post('/projects').set(as(TENANT[model])).send({ name: 'Seed', createdById: users[0].id });
      assert.equal(project.status, 201, project.text);
      seeded[model] = { users, project: project.body };
    }
    // The snapshot must see the seeded rows, or "unchanged" would hold vacuously.
    const first = await snapshot();
    assert.equal(rowsOf(first, 'users'), 6);
    assert.equal(rowsOf(first, 'projects'), 3);
  });
  afterAll(async () => t?.close());

  describe('tenant resolution input', () => {
    it('SQL injection in X-Tenant-ID, the path prefix and the subdomain is a 400 before any lookup', () =>
      unchanged(async () => {
        for (const model of MODELS) {
          for (const payload of SQL_INJECTION.map((p) => `${TENANT[model]}${p}`).concat(SQL_INJECTION)) {
            assertError(await request(t.http).get('/users').set(as(payload)), 400, /x-tenant-id header is malformed/);
            assertError(await request(t.http).get(`/t/${encodeURIComponent(payload)}/users`), 400, /path prefix .* is malformed/);
            assertError(
              await request(t.http).get('/users').set('Host', `${payload}.localhost`),
              400,
              /subdomain of localhost is malformed/,
            );
            assertError(
              await request(t.http).post('/users').set(as(payload)).send({ email: 'inject@example.com', name: 'Inject' }),
              400,
              /malformed/,
            );
          }
        }
      }));

    it('over-long ids (41 characters, 10 KB) are 400; 40 characters is a well-formed unknown tenant (404)', () =>
      unchanged(async () => {
        for (const id of ['a'.repeat(41), `${TENANT.shared}-${'x'.repeat(40)}`, 'a'.repeat(10 * 1024)]) {
          assertError(await request(t.http).get('/users').set(as(id)), 400, /header is malformed: use 1 to 40 characters/);
          assertError(await request(t.http).get(`/t/${id}/users`), 400, /path prefix .* is malformed/);
          assertError(await request(t.http).get('/users').set('Host', `${id}.localhost`), 400, /subdomain .* is malformed/);
        }
        // Past Node's 16 KB header limit the parser refuses the request: still a JSON error.
        assertError(
          await rawRequest(port, `GET /users HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: ${'a'.repeat(20 * 1024)}`),
          431,
          /headers are too large/,
        );
        const forty = 'a'.repeat(40);
        assertError(await request(t.http).get('/users').set(as(forty)), 404, new RegExp(`Tenant '${forty}' does not exist`));
      }));

    it('non-ASCII ids (é, emoji, RTL override, NUL) are 400 in the header, the path and the subdomain', () =>
      unchanged(async () => {
        const ids = [
          `${TENANT.shared}é`,
          `${TENANT.schema}😀`,
          `\u202e${TENANT.database}`,
          `${TENANT.shared}\u0000`,
          `${TENANT.shared}\u200b`,
        ];
        for (const id of ids) {
          const utf8 = Buffer.from(id, 'utf8').toString('latin1');
          // Sent byte for byte: a well-behaved client refuses these header values.
          assertError(
            await rawRequest(port, `GET /users HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: ${utf8}`),
            400,
            /malformed|not valid HTTP/,
          );
          assertError(await rawRequest(port, `GET /users HTTP/1.1\r\nHost: ${utf8}.localhost`), 400, /malformed|not valid HTTP/);
          assertError(await request(t.http).get(`/t/${encodeURIComponent(id)}/users`), 400, /path prefix .* is malformed/);
          assertError(await rawRequest(port, `GET /t/${utf8}/users HTTP/1.1\r\nHost: localhost`), 400, /malformed|not valid HTTP/);
        }
        // é as one Latin-1 byte, which clients do send.
        assertError(
          await request(t.http)
            .get('/users')
            .set(as(`${TENANT.shared}\u00e9`)),
          400,
          /header is malformed/,
        );
        // A punycode label is ASCII and well formed: an unknown tenant, not an error of format.
        assertError(await request(t.http).get('/users').set('Host', 'xn--bi-shared-9ya.localhost'), 404, /does not exist/);
      }));

    it('%00, encoded slashes and encoded dot segments in the path prefix are 400', () =>
      unchanged(async () => {
        const segments = [
          `${TENANT.shared}%00`,
          `%00${TENANT.shared}`,
          `${TENANT.shared}%2F..%2F${TENANT.schema}`,
          `${TENANT.shared}%2fusers`,
          `%2e%2e`,
          `..%2F${TENANT.shared}`,
          `${TENANT.shared}%5C`,
          `%E0%A4%A`,
          `${TENANT.shared}%20`,
        ];
        for (const segment of segments) {
          assertError(await rawRequest(port, `GET /t/${segment}/users HTTP/1.1\r\nHost: localhost`), 400, /path prefix .* is malformed/);
          assertError(await request(t.http).get(`/t/${segment}/users`), 400, /path prefix .* is malformed/);
        }
        assertError(await request(t.http).get('/t//users'), 400, /path prefix .* is malformed/);
      }));

    it('uppercase ids are 400 in the header and the path; a host name is case-insensitive', () =>
      unchanged(async () => {
        for (const model of MODELS) {
          const upper = TENANT[model].toUpperCase();
          assertError(await request(t.http).get('/users').set(as(upper)), 400, /header is malformed/);
          assertError(await request(t.http).get(`/t/${upper}/users`), 400, /path prefix .* is malformed/);
          const byHost = await request(t.http).get('/users').set('Host', `${upper}.localhost:3000`);
          assert.equal(byHost.status, 200, byHost.text);
          assert.deepEqual(
            byHost.body.items.map((u: { id: string }) => u.id),
            seeded[model].users.map((u) => u.id),
          );
        }
      }));

    it('an empty or repeated X-Tenant-ID header is 400', () =>
      unchanged(async () => {
        assertError(await request(t.http).get('/users').set(as('')), 400, /header is malformed/);
        assertError(
          await request(t.http)
            .get('/users')
            .set('X-Tenant-ID', [TENANT.shared, TENANT.shared] as unknown as string),
          400,
          /header is malformed/,
        );
        assertError(
          await request(t.http)
            .get('/users')
            .set('X-Tenant-ID', [TENANT.shared, TENANT.schema] as unknown as string),
          400,
          /header is malformed/,
        );
        assertError(
          await request(t.http)
            .post('/users')
            .set('X-Tenant-ID', [TENANT.shared, TENANT.schema] as unknown as string)
            .send({ email: 'twice@example.com', name: 'Twice' }),
          400,
          /header is malformed/,
        );
        assertError(
          await rawRequest(
            port,
            `GET /users HTTP/1.1\r\nHost: localhost\r\nX-Tenant-ID: ${TENANT.shared}\r\nX-Tenant-ID: ${TENANT.schema}`,
          ),
          400,
          /malformed/,
        );
      }));

    it('an unknown tenant is 404 and a missing tenant is 400, for reads and writes', () =>
      unchanged(async () => {
        for (const send of [
          () => request(t.http).get('/users').set(as('no-such-tenant')),
          () => request(t.http).get('/t/no-such-tenant/users'),
          () => request(t.http).get('/users').set('Host', 'no-such-tenant.localhost'),
          () => request(t.http).post('/users').set(as('no-such-tenant')).send({ email: 'ghost@example.com', name: 'Ghost' }),
          () => request(t.http).delete(`/users/${seeded.shared.users[1].id}`).set(as('no-such-tenant')),
        ]) {
          assertError(await send(), 404, /Tenant 'no-such-tenant' does not exist/);
        }
        for (const send of [
          () => request(t.http).get('/users'),
          () => request(t.http).get(`/projects/${seeded.shared.project.id}`),
          () => request(t.http).post('/users').send({ email: 'nobody@example.com', name: 'Nobody' }),
          () => request(t.http).delete(`/users/${seeded.shared.users[1].id}`),
          () => request(t.http).get('/users').set('Host', 'localhost:3000'),
          () => request(t.http).get('/users').set('Host', `${TENANT.shared}.example.com`),
        ]) {
          assertError(await send(), 400, /No tenant given/);
        }
      }));
  });

  for (const model of MODELS) {
    describe(`requests to a tenant under the ${model} model`, () => {
      const tenant = TENANT[model];
      const get = (path: string) => request(t.http).get(path).set(as(tenant));
      const post = (path: string) => request(t.http).post(path).set(as(tenant));
      const patch = (path: string) => request(t.http).patch(path).set(as(tenant));
      const del = (path: string) => request(t.http).delete(path).set(as(tenant));
      const user = () => seeded[model].users[0];
      const project = () => seeded[model].project;

      it('SQL injection in q matches nothing; in cursor, createdById and limit it is a 400', () =>
        unchanged(async () => {
          for (const payload of SQL_INJECTION) {
            const search = await get('/users').query({ q: payload });
            assert.equal(search.status, 200, search.text);
            assert.deepEqual(search.body, { items: [], nextCursor: null });
            assertError(await get('/users').query({ cursor: payload }), 400, /cursor is not valid/);
            assertError(await get('/projects').query({ cursor: payload }), 400, /cursor is not valid/);
            assertError(await get('/projects').query({ createdById: payload }), 400, /createdById must be a UUID/);
            assertError(await get('/users').query({ limit: payload }), 400, /limit/);
          }
          // A search that does match still works: the payloads above were refused, not everything.
          const alice = await get('/users').query({ q: 'alice' });
          assert.deepEqual(
            alice.body.items.map((u: { id: string }) => u.id),
            [user().id],
          );
        }));

      it('SQL injection in body fields is refused where the format forbids it', () =>
        unchanged(async () => {
          for (const payload of SQL_INJECTION) {
            assertError(await post('/users').send({ email: `${payload}@example.com x`, name: 'Inject' }), 400, /email must be an email/);
            assertError(await post('/users').send({ email: payload, name: 'Inject' }), 400, /email must be an email/);
            assertError(await post('/projects').send({ name: 'Inject', createdById: payload }), 400, /createdById must be a UUID/);
            assertError(await patch(`/users/${user().id}`).send({ email: payload }), 400, /email must be an email/);
          }
        }));

      it('SQL injection in free-text fields is stored and returned literally, and nothing else moves', () =>
        unchanged(async () => {
          for (const payload of SQL_INJECTION) {
            const created = await post('/users').send({ email: `o'reilly--${SQL_INJECTION.indexOf(payload)}@example.com`, name: payload });
            assert.equal(created.status, 201, created.text);
            assert.equal(created.body.name, payload.trim());
            const proj = await post('/projects').send({ name: payload, description: payload, createdById: created.body.id });
            assert.equal(proj.status, 201, proj.text);
            const read = await get(`/projects/${proj.body.id}`);
            assert.equal(read.body.name, payload.trim());
            assert.equal(read.body.description, payload);
            assert.equal(read.body.createdBy.name, payload.trim());
            assert.equal((await del(`/projects/${proj.body.id}`)).status, 204);
            assert.equal((await del(`/users/${created.body.id}`)).status, 204);
          }
        }));

      it('a NUL byte in a string value is a 400, not a database error', () =>
        unchanged(async () => {
          assertError(await get('/users').query({ q: 'a\u0000b' }), 400, /cannot be stored/);
          assertError(await post('/users').send({ email: 'nul@example.com', name: 'Nul\u0000Byte' }), 400, /cannot be stored/);
          assertError(await patch(`/users/${user().id}`).send({ name: '\u0000' }), 400, /cannot be stored/);
          assertError(
            await post('/projects').send({ name: 'Nul', description: 'a\u0000', createdById: user().id }),
            400,
            /cannot be stored/,
          );
          assertError(await patch(`/projects/${project().id}`).send({ description: '\u0000' }), 400, /cannot be stored/);
        }));

      it('malformed JSON, and JSON that is not an object, is a 400', () =>
        unchanged(async () => {
          for (const text of [
            '{"email":',
            "{'email': 'x@example.com'}",
            '{"a":1,}',
            'NaN',
            '{"email":"a@example.com" "name":"x"}',
            '\u0000',
            '"a string"',
            '42',
            'null',
            'true',
          ]) {
            for (const send of [() => post('/users'), () => patch(`/users/${user().id}`), () => post('/projects')]) {
              assertError(await send().set('Content-Type', 'application/json').send(text), 400, /not valid JSON/);
            }
          }
          for (const body of [[{ email: 'arr@example.com', name: 'Arr' }], [], [[]]]) {
            assertError(await post('/users').send(body), 400);
            assertError(await patch(`/users/${user().id}`).send(body), 400);
            assertError(await post('/projects').send(body), 400);
          }
        }));

      it('unreadable bodies: bad Content-Encoding is 400, unknown encodings and charsets 415', () =>
        unchanged(async () => {
          const json = JSON.stringify({ email: 'zip@example.com', name: 'Zip' });
          for (const encoding of ['gzip', 'deflate', 'br']) {
            assertError(
              await post('/users').set('Content-Type', 'application/json').set('Content-Encoding', encoding).send(json),
              400,
              /cannot be read/,
            );
          }
          assertError(await post('/users').set('Content-Type', 'application/json').set('Content-Encoding', 'rot13').send(json), 415);
          assertError(await post('/users').set('Content-Type', 'application/json; charset=klingon').send(json), 415);
        }));

      it('wrong types are a 400 naming the field', () =>
        unchanged(async () => {
          const cases: [() => request.Test, RegExp][] = [
            [() => post('/users').send({ email: 123, name: 'Num' }), /email must be an email/],
            [() => post('/users').send({ email: 'obj@example.com', name: {} }), /name must be a string/],
            [() => post('/users').send({ email: ['arr@example.com'], name: 'Arr' }), /email/],
            [() => post('/users').send({ email: 'bool@example.com', name: true }), /name must be a string/],
            [() => post('/users').send({ email: null, name: null }), /email.*name|name.*email/],
            [() => post('/users').send({ email: 'blank@example.com', name: '   ' }), /name must be longer/],
            [() => post('/users').send({ email: 'long@example.com', name: 'x'.repeat(201) }), /name must be/],
            [() => post('/users').send({ email: `${'x'.repeat(250)}@example.com`, name: 'Long' }), /email/],
            [() => post('/users').send({}), /email.*name/],
            [() => post('/projects').send({ name: 'P', createdById: 'not-a-uuid' }), /createdById must be a UUID/],
            [() => post('/projects').send({ name: 'P', createdById: 123 }), /createdById must be a UUID/],
            [() => post('/projects').send({ name: 'P' }), /createdById must be a UUID/],
            [() => post('/projects').send({ name: [], createdById: user().id }), /name must be a string/],
            [() => post('/projects').send({ name: 'P', description: 5, createdById: user().id }), /description must be a string/],
            [
              () => post('/projects').send({ name: 'P', description: 'd'.repeat(2001), createdById: user().id }),
              /description must be shorter/,
            ],
            [() => patch(`/users/${user().id}`).send({ email: 123 }), /email must be an email/],
            [() => patch(`/users/${user().id}`).send({ name: {} }), /name must be a string/],
            [() => patch(`/projects/${project().id}`).send({ name: {} }), /name must be a string/],
            [() => patch(`/projects/${project().id}`).send({ description: ['x'] }), /description must be a string/],
            // null passes validation as "optional" but cannot be stored: refused, rolled back.
            [() => patch(`/users/${user().id}`).send({ name: null }), /required value is missing/],
            [() => patch(`/users/${user().id}`).send({ email: null }), /required value is missing/],
            [() => patch(`/projects/${project().id}`).send({ name: null }), /required value is missing/],
          ];
          for (const [send, message] of cases) assertError(await send(), 400, message);
        }));

      it('limit outside 1..100 or not an integer is a 400; 1 and 100 are fine', () =>
        unchanged(async () => {
          for (const path of ['/users', '/projects']) {
            for (const limit of ['abc', '0', '101', '-1', '1e3', '1.5', '', 'NaN', 'Infinity', '99999999999999999999']) {
              assertError(await get(`${path}?limit=${encodeURIComponent(limit)}`), 400, /limit must/);
            }
            assertError(await get(`${path}?limit=1&limit=2`), 400, /limit/);
            for (const limit of [1, 100]) assert.equal((await get(path).query({ limit })).status, 200);
          }
        }));

      it('unknown fields, tenantId and tenant_id included, are refused and never honoured', () =>
        unchanged(async () => {
          const other = model === 'shared' ? TENANT.schema : TENANT.shared;
          for (const field of ['tenantId', 'tenant_id', 'id', 'createdAt', 'isAdmin']) {
            const body = { email: `extra-${field.toLowerCase().replace(/_/g, '')}@example.com`, name: 'Extra', [field]: other };
            assertError(await post('/users').send(body), 400, new RegExp(`property ${field} should not exist`));
          }
          assertError(
            await post('/projects').send({ name: 'P', createdById: user().id, tenantId: other }),
            400,
            /property tenantId should not exist/,
          );
          assertError(
            await patch(`/users/${user().id}`).send({ name: 'Moved', tenant_id: other }),
            400,
            /property tenant_id should not exist/,
          );
          assertError(
            await patch(`/projects/${project().id}`).send({ createdById: seeded[model].users[1].id }),
            400,
            /property createdById should not exist/,
          );
          assertError(await get('/users').query({ tenantId: other }), 400, /property tenantId should not exist/);
          assertError(await get('/users').query({ 'q[]': 'x' }), 400, /should not exist/);
          assertError(await get('/users').query('q=a&q=b'), 400, /q must be a string/);
        }));

      it('__proto__ and constructor keys are refused or ignored, never honoured', () =>
        unchanged(async () => {
          const other = model === 'shared' ? TENANT.schema : TENANT.shared;
          const bodies = [
            `{"email":"proto@example.com","name":"Proto","__proto__":{"tenantId":"${other}","isAdmin":true}}`,
            `{"email":"ctor@example.com","name":"Ctor","constructor":{"prototype":{"tenantId":"${other}"}}}`,
            `{"email":"ctor2@example.com","name":"Ctor","constructor":"${other}"}`,
          ];
          for (const body of bodies) {
            const res = await post('/users').set('Content-Type', 'application/json').send(body);
            if (res.status === 201) {
              // Ignored: the user is this tenant's, holds only its own fields, and nothing leaked out.
              assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'email', 'id', 'name', 'updatedAt']);
              assert.equal((await get(`/users/${res.body.id}`)).status, 200);
              assert.equal((await request(t.http).get(`/users/${res.body.id}`).set(as(other))).status, 404);
              assert.equal(({} as Record<string, unknown>).tenantId, undefined, 'Object.prototype was polluted');
              assert.equal((await del(`/users/${res.body.id}`)).status, 204);
            } else {
              assertError(res, 400, /should not exist/);
            }
          }
        }));

      it('a body over the size limit is 413', () =>
        unchanged(async () => {
          for (const size of [100 * 1024, 1024 * 1024]) {
            const name = 'x'.repeat(size);
            assertError(await post('/users').send({ email: 'big@example.com', name }), 413, /too large/);
            assertError(await patch(`/users/${user().id}`).send({ name }), 413, /too large/);
            assertError(await post('/projects').send({ name: 'Big', description: name, createdById: user().id }), 413, /too large/);
          }
        }));

      it('garbage cursors are a 400; a real one still pages', () =>
        unchanged(async () => {
          const random = prng(model.length);
          const bytes = Buffer.from(Array.from({ length: 48 }, () => Math.floor(random() * 256)));
          const cursors = [
            bytes.toString('base64url'),
            bytes.toString('base64'),
            Buffer.from('v1:not-a-uuid').toString('base64url'),
            Buffer.from(`v2:${user().id}`).toString('base64url'),
            Buffer.from(`v1:${user().id.toUpperCase()}`).toString('base64url'),
            Buffer.from(`v1:${user().id}' OR '1'='1`).toString('base64url'),
            Buffer.from(`v1:${user().id}\u0000`).toString('base64url'),
            user().id,
            'A'.repeat(10 * 1024),
            '',
            '%00',
          ];
          for (const cursor of cursors) {
            assertError(await get(`/users?cursor=${encodeURIComponent(cursor)}`), 400, /cursor/);
            assertError(await get(`/projects?cursor=${encodeURIComponent(cursor)}`), 400, /cursor/);
          }
          const first = await get('/users').query({ limit: 1 });
          assert.equal(first.status, 200);
          assert.equal(typeof first.body.nextCursor, 'string');
          const second = await get('/users').query({ limit: 1, cursor: first.body.nextCursor });
          assert.equal(second.status, 200);
          assert.deepEqual(
            second.body.items.map((u: { id: string }) => u.id),
            [seeded[model].users[1].id],
          );
        }));

      it('a :id that is not a UUID is 400 for read, update and delete; an unknown UUID is 404', () =>
        unchanged(async () => {
          const ids = [
            'abc',
            '123',
            encodeURIComponent(`1' OR '1'='1`),
            user().id.replace(/-/g, ''),
            `${user().id}0`,
            `${user().id}%00`,
            '%00',
            `{${user().id}}`,
            'a'.repeat(10 * 1024),
            '%E0%A4%A',
          ];
          for (const resource of ['users', 'projects']) {
            for (const id of ids) {
              assertError(await get(`/${resource}/${id}`), 400, /id must be a UUID|decode/);
              assertError(await patch(`/${resource}/${id}`).send({ name: 'Renamed' }), 400, /id must be a UUID|decode/);
              assertError(await del(`/${resource}/${id}`), 400, /id must be a UUID|decode/);
            }
            const unknown = randomUUID();
            assertError(await get(`/${resource}/${unknown}`), 404, /not found/);
            assertError(await patch(`/${resource}/${unknown}`).send({ name: 'Renamed' }), 404, /not found/);
            assertError(await del(`/${resource}/${unknown}`), 404, /not found/);
          }
        }));

      it('PATCH with an empty body is a 400', () =>
        unchanged(async () => {
          assertError(await patch(`/users/${user().id}`).send({}), 400, /Give email or name/);
          assertError(await patch(`/projects/${project().id}`).send({}), 400, /Give name or description/);
          assertError(await patch(`/users/${user().id}`), 400);
          assertError(await patch(`/projects/${project().id}`), 400);
        }));
    });
  }

  it('300 randomized junk requests: never a 5xx, every error clean, nothing written', () =>
    unchanged(async () => {
      const random = prng(0xc0ffee);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
      const tenants = [
        ...Object.values(TENANT),
        'no-such-tenant',
        '',
        'UPPER',
        'a'.repeat(41),
        ...SQL_INJECTION,
        'é',
        '..',
        '-a',
        'a-',
        '0',
      ];
      const junkStrings = [
        ...SQL_INJECTION,
        '',
        ' ',
        'x'.repeat(300),
        '\u0000',
        'é😀\u202e',
        '%00',
        '%',
        '_',
        '\\',
        '../../etc/passwd',
        '<script>alert(1)</script>',
        'not-a-uuid',
        randomUUID(),
        'null',
        '-1',
        '1e309',
        '{{7*7}}',
      ];
      const junkValue = (depth = 0): unknown => {
        const roll = random();
        if (roll < 0.35 || depth > 2) return pick(junkStrings);
        if (roll < 0.5) return pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 101]);
        if (roll < 0.6) return pick([true, false, null]);
        if (roll < 0.8) return Array.from({ length: Math.floor(random() * 3) }, () => junkValue(depth + 1));
        return junkObject(depth + 1);
      };
      const keys = ['email', 'name', 'description', 'createdById', 'tenantId', 'tenant_id', 'id', '__proto__', 'constructor', 'limit', ''];
      const junkObject = (depth = 0): Record<string, unknown> => {
        const out: Record<string, unknown> = {};
        for (let i = Math.floor(random() * 4); i > 0; i--) out[pick(keys)] = junkValue(depth);
        // Never a valid email: a junk write can never succeed, so nothing may change.
        if (typeof out.email === 'string') out.email = `${out.email} not an email`;
        return out;
      };
      const rawBodies = [
        '{',
        '[',
        '{"email":',
        'undefined',
        '\u0000',
        '{"__proto__":{"admin":true}}',
        '[1,2,3]',
        '"x"',
        '{"a":' + '['.repeat(5000),
      ];
      const seg = () =>
        random() < 0.7 ? encodeURIComponent(pick([...junkStrings, randomUUID()])) : pick(['%E0%A4%A', '%2F', '%00', '..']);
      const paths = () =>
        pick([
          '/users',
          '/projects',
          `/users/${seg()}`,
          `/projects/${seg()}`,
          `/users/${randomUUID()}`,
          `/projects/${randomUUID()}`,
          '/nope',
          '/users/',
          '/t/',
        ]);
      const methods = ['get', 'post', 'patch', 'delete', 'put'] as const;
      const statuses = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const method = pick(methods);
        let path = paths();
        const tenant = pick(tenants);
        const placement = pick(['header', 'path', 'subdomain', 'none', 'header+path']);
        if (placement.includes('path')) path = `/t/${encodeURIComponent(tenant)}${path}`;
        const query = Array.from(
          { length: Math.floor(random() * 3) },
          () =>
            `${encodeURIComponent(pick(['limit', 'cursor', 'q', 'createdById', 'tenantId', 'x']))}=${encodeURIComponent(String(junkValue(2)))}`,
        ).join('&');
        let req = request(t.http)[method](query ? `${path}?${query}` : path);
        if (placement.startsWith('header')) req = req.set('X-Tenant-ID', tenant.replace(/[^\x20-\x7e]/g, '?'));
        if (placement === 'subdomain') req = req.set('Host', `${tenant.replace(/[^\x21-\x7e]/g, '?')}.localhost`);
        if (method === 'post' || method === 'patch' || method === 'put') {
          const kind = random();
          if (kind < 0.6) req = req.send(junkObject() as object);
          else if (kind < 0.8) req = req.set('Content-Type', 'application/json').send(pick(rawBodies));
          else if (kind < 0.9) req = req.set('Content-Type', 'application/json').send(JSON.stringify(junkValue()) ?? 'null');
          else
            req = req
              .set('Content-Type', pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16']))
              .send('email=x&name=y');
        }
        const res = await req;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const label = `#${i} ${method.toUpperCase()} ${path}?${query} (${placement}: ${JSON.stringify(tenant).slice(0, 60)})`;
        assert.ok(res.status < 500, `${label} -> ${res.status} ${res.text.slice(0, 300)}`);
        if (method !== 'get') assert.ok(res.status >= 400, `${label}: a junk write succeeded (${res.status} ${res.text.slice(0, 200)})`);
        if (res.status >= 400) assertError(res as unknown as ErrorResponse, res.status);
      }
      // The run did reach tenants' handlers (not only the resolver) and got refusals of several kinds.
      assert.ok((statuses.get(400) ?? 0) > 50, JSON.stringify([...statuses]));
      assert.ok((statuses.get(404) ?? 0) > 10, JSON.stringify([...statuses]));
      assert.ok((statuses.get(200) ?? 0) > 0, JSON.stringify([...statuses]));
    }));
});
