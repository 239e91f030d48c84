// The reference API, run once per isolation model: the same suite, the same assertions.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import type { IsolationModel } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];

for (const model of MODELS) {
  describe(`reference API under the ${model} model`, () => {
    let t: TestApp;
    const A = `a-${model}`;
    const B = `b-${model}`;
    const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

    beforeAll(async () => {
      t = await startTestApp({
        tenants: [
          { id: A, name: 'Tenant A', strategy: model },
          { id: B, name: 'Tenant B', strategy: model },
        ],
      });
    });
    afterAll(async () => t?.close());

    async function createUser(tenant: string, email: string, name = 'Someone') {
      const res = await request(t.http).post('/users').set(as(tenant)).send({ email, name });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as { id: string; email: string; name: string; createdAt: string };
    }

    it('creates a user and reads it back', async () => {
      const user = await createUser(A, 'Ada@Example.com', ' Ada ');
      assert.match(user.id, /^[0-9a-f-]{36}$/);
      assert.equal(user.email, 'ada@example.com');
      assert.equal(user.name, 'Ada');
      assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
      const got = await request(t.http).get(`/users/${user.id}`).set(as(A));
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, user);
    });

    it('refuses a duplicate email within a tenant with 409, allows it in another tenant', async () => {
      await createUser(A, 'dup@example.com');
      const again = await request(t.http).post('/users').set(as(A)).send({ email: 'DUP@example.com', name: 'Dup' });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'Conflict');
      assert.doesNotMatch(JSON.stringify(again.body), /users_email_key|duplicate key|tenant_id/);
      await createUser(B, 'dup@example.com');
    });

    it('pages through users with an opaque cursor, in creation order', async () => {
      const made: string[] = [];
      for (let i = 0; i < 7; i++) made.push((await createUser(B, `page${i}@example.com`, `Pager ${i}`)).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: request.Response = await request(t.http)
          .get('/users')
          .query({ limit: 3, q: 'pager', ...(cursor ? { cursor } : {}) })
          .set(as(B));
        assert.equal(res.status, 200);
        assert.ok(res.body.items.length <= 3);
        seen.push(...res.body.items.map((u: { id: string }) => u.id));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      assert.deepEqual(seen, made);
      assert.equal(pages, 3);
    });

    it('search treats LIKE wildcards literally', async () => {
      await createUser(A, 'percent@example.com', 'Fifty % off');
      const res = await request(t.http).get('/users').query({ q: '%' }).set(as(A));
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((u: { name: string }) => u.name),
        ['Fifty % off'],
      );
    });

    it('updates and deletes a user', async () => {
      const user = await createUser(A, 'patch@example.com');
      const patched = await request(t.http).patch(`/users/${user.id}`).set(as(A)).send({ name: 'Patched' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.name, 'Patched');
      assert.equal((await request(t.http).delete(`/users/${user.id}`).set(as(A))).status, 204);
      assert.equal((await request(t.http).get(`/users/${user.id}`).set(as(A))).status, 404);
    });

    it('another tenant’s user id is 404 for read, update and delete, and stays unchanged', async () => {
      const victim = await createUser(B, 'victim@example.com', 'Victim');
      assert.equal((await request(t.http).get(`/users/${victim.id}`).set(as(A))).status, 404);
      assert.equal((await request(t.http).patch(`/users/${victim.id}`).set(as(A)).send({ name: 'Owned' })).status, 404);
      assert.equal((await request(t.http).delete(`/users/${victim.id}`).set(as(A))).status, 404);
      const still = await request(t.http).get(`/users/${victim.id}`).set(as(B));
      assert.equal(still.status, 200);
      assert.equal(still.body.name, 'Victim');
    });

    it('lists hold only the tenant’s own rows', async () => {
      await createUser(A, 'only-a@example.com');
      await createUser(B, 'only-b@example.com');
      const listA = await request(t.http).get('/users').query({ limit: 100 }).set(as(A));
      const listB = await request(t.http).get('/users').query({ limit: 100 }).set(as(B));
      const emailsA = listA.body.items.map((u: { email: string }) => u.email);
      const emailsB = listB.body.items.map((u: { email: string }) => u.email);
      assert.ok(emailsA.includes('only-a@example.com'));
      assert.ok(!emailsA.includes('only-b@example.com'));
      assert.ok(emailsB.includes('only-b@example.com'));
      assert.ok(!emailsB.includes('only-a@example.com'));
      const idsA = new Set(listA.body.items.map((u: { id: string }) => u.id));
      assert.ok(listB.body.items.every((u: { id: string }) => !idsA.has(u.id)));
    });

    it('creates projects with their creator, lists and filters them', async () => {
      const owner = await createUser(A, 'owner@example.com', 'Owner');
      const other = await createUser(A, 'other-owner@example.com', 'Other');
      const p1 = await request(t.http).post('/projects').set(as(A)).send({ name: 'Apollo', createdById: owner.id });
      assert.equal(p1.status, 201, JSON.stringify(p1.body));
      assert.deepEqual(p1.body.createdBy, { id: owner.id, name: 'Owner', email: 'owner@example.com' });
      const p2 = await request(t.http).post('/projects').set(as(A)).send({ name: 'Gemini', description: 'two', createdById: other.id });
      assert.equal(p2.status, 201);
      const mine = await request(t.http).get('/projects').query({ createdById: owner.id }).set(as(A));
      assert.equal(mine.status, 200);
      assert.deepEqual(
        mine.body.items.map((p: { name: string }) => p.name),
        ['Apollo'],
      );
      assert.equal(mine.body.items[0].createdBy.email, 'owner@example.com');
      const patched = await request(t.http).patch(`/projects/${p2.body.id}`).set(as(A)).send({ description: null });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.description, null);
    });

    it('refuses a project whose creator is another tenant’s user', async () => {
      const foreign = await createUser(B, 'foreign@example.com');
      const res = await request(t.http).post('/projects').set(as(A)).send({ name: 'Trojan', createdById: foreign.id });
      assert.equal(res.status, 400);
      const list = await request(t.http).get('/projects').query({ limit: 100 }).set(as(A));
      assert.ok(!list.body.items.some((p: { name: string }) => p.name === 'Trojan'));
    });

    it('another tenant’s project id is 404 for read, update and delete', async () => {
      const owner = await createUser(B, 'powner@example.com');
      const project = await request(t.http).post('/projects').set(as(B)).send({ name: 'Secret', createdById: owner.id });
      assert.equal(project.status, 201);
      const id = project.body.id;
      assert.equal((await request(t.http).get(`/projects/${id}`).set(as(A))).status, 404);
      assert.equal((await request(t.http).patch(`/projects/${id}`).set(as(A)).send({ name: 'Mine' })).status, 404);
      assert.equal((await request(t.http).delete(`/projects/${id}`).set(as(A))).status, 404);
      const still = await request(t.http).get(`/projects/${id}`).set(as(B));
      assert.equal(still.body.name, 'Secret');
    });

    it('refuses to delete a user who created projects (409) and keeps both', async () => {
      const owner = await createUser(A, 'keeper@example.com');
      const project = await request(t.http).post('/projects').set(as(A)).send({ name: 'Kept', createdById: owner.id });
      const res = await request(t.http).delete(`/users/${owner.id}`).set(as(A));
      assert.equal(res.status, 409);
      assert.equal((await request(t.http).get(`/users/${owner.id}`).set(as(A))).status, 200);
      assert.equal((await request(t.http).get(`/projects/${project.body.id}`).set(as(A))).status, 200);
    });

    it('resolves the tenant from a path prefix and from a subdomain', async () => {
      const user = await createUser(A, 'routes@example.com');
      const byPath = await request(t.http).get(`/t/${A}/users/${user.id}`);
      assert.equal(byPath.status, 200);
      const bySubdomain = await request(t.http).get(`/users/${user.id}`).set('Host', `${A}.localhost:3000`);
      assert.equal(bySubdomain.status, 200);
      const wrongSubdomain = await request(t.http).get(`/users/${user.id}`).set('Host', `${B}.localhost`);
      assert.equal(wrongSubdomain.status, 404);
    });

    it('a 201 means the row is committed: it is visible to the next request at once', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => createUser(B, `durable${i}@example.com`)));
      for (const user of results) {
        assert.equal((await request(t.http).get(`/users/${user.id}`).set(as(B))).status, 200);
      }
    });
  });
}
