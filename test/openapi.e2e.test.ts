// The OpenAPI document the service serves (/docs-json, behind /docs), checked as a client generator
// would read it: every operation says what it answers, with a body schema for each answer that has
// a body, error answers with the error shape, the tenant header required where the tenant comes
// from it, the /t/{tenant}/ path form, and the fields typed as the API sends them.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';

type Schema = { $ref?: string; type?: string; nullable?: boolean; properties?: Record<string, Schema>; items?: Schema; oneOf?: Schema[] };
type Parameter = { name: string; in: string; required?: boolean; schema?: Schema };
type Response = { description?: string; content?: Record<string, { schema?: Schema }> };
type Operation = { parameters?: Parameter[]; responses: Record<string, Response> };
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema & { required?: string[] }> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('OpenAPI document (/docs-json)', () => {
  let t: TestApp;
  let doc: Document;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await request(t.http).get('/docs-json');
    assert.equal(res.status, 200);
    doc = res.body as Document;
  });

  afterAll(() => t?.close());

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ path, method, op })),
    );
  const resolve = (schema: Schema | undefined): Schema | undefined =>
    schema?.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;

  it('every operation lists its answers, each with a description, and a body schema unless it is a 204', () => {
    const ops = operations();
    assert.ok(ops.length >= 20, `only ${ops.length} operations`);
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses ?? {});
      assert.ok(
        statuses.some((s) => /^2\d\d$/.test(s)),
        `${method} ${path}: no success answer`,
      );
      for (const [status, answer] of Object.entries(op.responses)) {
        assert.ok(answer.description && answer.description.trim(), `${method} ${path} ${status}: empty description`);
        if (status === '204') {
          assert.equal(answer.content, undefined, `${method} ${path} 204 has a body`);
          continue;
        }
        const media = Object.values(answer.content ?? {});
        assert.ok(media.length && media.every((m) => m.schema), `${method} ${path} ${status}: no body schema`);
      }
    }
  });

  it('error answers are listed (4xx and 503) with the error shape {statusCode, error, message}', () => {
    for (const { path, method, op } of operations()) {
      const errors = Object.keys(op.responses).filter((s) => /^[45]\d\d$/.test(s));
      // Every route that takes input or a tenant lists its 4xx; liveness has no error, readiness its 503.
      if (path.startsWith('/health')) assert.ok(path === '/health' || errors.includes('503'), `${method} ${path}: no 503 listed`);
      else
        assert.ok(
          errors.some((s) => s.startsWith('4')),
          `${method} ${path}: no 4xx listed`,
        );
      for (const status of errors) {
        const schema = resolve(op.responses[status].content?.['application/json']?.schema);
        assert.ok(schema?.properties, `${method} ${path} ${status}: no error schema`);
        assert.deepEqual(Object.keys(schema.properties).sort(), ['error', 'message', 'statusCode'], `${method} ${path} ${status}`);
        assert.equal(schema.properties.statusCode.type, 'number');
      }
    }
    for (const path of ['/users', '/projects/{id}']) {
      for (const op of Object.values(doc.paths[path])) {
        for (const status of ['400', '403', '404', '429', '503']) assert.ok(op.responses[status], `${path}: ${status} missing`);
      }
    }
    assert.ok(doc.paths['/users'].post.responses['409'], 'POST /users: 409 (email taken) missing');
    assert.ok(doc.paths['/health/ready'].get.responses['503'], 'readiness: 503 missing');
  });

  it('bodies are typed as sent: a user, a page of projects, a nullable string description', () => {
    const created = resolve(doc.paths['/users'].post.responses['201'].content!['application/json'].schema)!;
    assert.deepEqual(Object.keys(created.properties!).sort(), ['createdAt', 'email', 'id', 'name', 'updatedAt']);
    const page = resolve(doc.paths['/projects'].get.responses['200'].content!['application/json'].schema)!;
    assert.equal(page.properties!.items.type, 'array');
    assert.equal(page.properties!.nextCursor.type, 'string');
    assert.equal(page.properties!.nextCursor.nullable, true);
    const project = resolve(page.properties!.items.items)!;
    for (const schema of [project, doc.components.schemas.CreateProjectDto, doc.components.schemas.UpdateProjectDto]) {
      assert.equal(schema.properties!.description.type, 'string', JSON.stringify(schema.properties!.description));
      assert.equal(schema.properties!.description.nullable, true);
    }
  });

  it('the tenant header is required on the tenant routes, and absent elsewhere', () => {
    for (const { path, method, op } of operations()) {
      const header = op.parameters?.find((p) => p.in === 'header' && p.name.toLowerCase() === 'x-tenant-id');
      const tenantRoute = /^\/(users|projects)\b/.test(path);
      if (tenantRoute) assert.equal(header?.required, true, `${method} ${path}: X-Tenant-ID not required`);
      else assert.equal(header, undefined, `${method} ${path} takes X-Tenant-ID`);
    }
  });

  it('every tenant route also has its /t/{tenant}/ form, the tenant a required path parameter instead of the header', () => {
    const tenantPaths = Object.keys(doc.paths).filter((p) => /^\/(users|projects)\b/.test(p));
    assert.ok(tenantPaths.length >= 4);
    for (const path of tenantPaths) {
      const form = doc.paths[`/t/{tenant}${path}`];
      assert.ok(form, `/t/{tenant}${path} missing`);
      assert.deepEqual(Object.keys(form).sort(), Object.keys(doc.paths[path]).sort());
      for (const [method, op] of Object.entries(form)) {
        const tenant = op.parameters?.find((p) => p.name === 'tenant');
        assert.equal(tenant?.in, 'path', `${method} /t/{tenant}${path}`);
        assert.equal(tenant?.required, true);
        assert.ok(!op.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'x-tenant-id'));
        assert.deepEqual(Object.keys(op.responses).sort(), Object.keys(doc.paths[path][method].responses).sort());
      }
    }
    assert.equal(Object.keys(doc.paths).filter((p) => p.startsWith('/t/{tenant}/admin') || p.startsWith('/t/{tenant}/health')).length, 0);
  });

  it('the documented path form answers as documented', async () => {
    const created = await request(t.http).post('/t/nobody-here/users').send({ email: 'x@example.com', name: 'X' });
    assert.equal(created.status, 404);
    assert.deepEqual(Object.keys(created.body).sort(), ['error', 'message', 'statusCode']);
  });
});
