// Per-tenant encryption keys (issue 12), once per isolation model: the user's email and the
// project's description are ciphertext in the database and plaintext through the API; a ciphertext
// moved to another tenant's row (or column) does not decrypt; uniqueness per tenant holds through
// the blind index; a tenant's values are re-encrypted under a new data key while it is served; a
// move carries the ciphertext unchanged; the export is plaintext; deleting a tenant destroys its
// data keys, so a backup of its rows taken before cannot be decrypted.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import {
  blindIndex,
  decryptValue,
  NoTenantContextError,
  IsolationModel,
  IsolationStrategy,
  LocalKeyProvider,
  TenantCatalog,
  TenantExporter,
  TenantKeyring,
  TenantLifecycle,
  TenantMover,
  TenantProvisioner,
  TenantReencryption,
} from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { quoteIdent } from '../libs/tenancy/src/core/sql';
import { User } from '../src/users/user.entity';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const NEXT: Record<IsolationModel, IsolationModel> = { shared: 'schema', schema: 'database', database: 'shared' };
const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });
type Row = Record<string, any>;

for (const model of MODELS) {
  describe(`encrypted columns under the ${model} model`, () => {
    let t: TestApp;
    const A = `enc-a-${model}`;
    const B = `enc-b-${model}`;
    const C = `enc-c-${model}`;

    beforeAll(async () => {
      t = await startTestApp({
        tenants: [A, B, C].map((id) => ({ id, name: id, strategy: model })),
      });
    });
    afterAll(async () => t?.close());

    /** Rows of `table` at the tenant's place, read as the owner with row security off. */
    async function ownerRows(tenant: string, table: string, where = 'true', params: unknown[] = []): Promise<Row[]> {
      const record = t.app.get(TenantCatalog).get(tenant)!;
      const { database, schema } = (t.app.get(IsolationStrategies).for(record.strategy) as IsolationStrategy).location(record);
      return withOwnerClient(database, async (c) => {
        await c.query('SET row_security = off');
        const { rows } = await c.query(`SELECT * FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE tenant_id = $1 AND ${where}`, [
          tenant,
          ...params,
        ]);
        return rows;
      });
    }

    async function ownerUpdate(tenant: string, sql: string, params: unknown[]): Promise<void> {
      const record = t.app.get(TenantCatalog).get(tenant)!;
      const { database, schema } = (t.app.get(IsolationStrategies).for(record.strategy) as IsolationStrategy).location(record);
      await withOwnerClient(database, async (c) => {
        await c.query(`SET search_path = ${quoteIdent(schema)}`);
        await c.query(sql, params);
      });
    }

    async function createUser(tenant: string, email: string, name = 'Someone') {
      const res = await request(t.http).post('/users').set(as(tenant)).send({ email, name });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as { id: string; email: string; name: string };
    }

    async function createProject(tenant: string, createdById: string, description: string) {
      const res = await request(t.http).post('/projects').set(as(tenant)).send({ name: 'Plan', description, createdById });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as { id: string; description: string };
    }

    it('stores the email and the description as ciphertext; the API answers plaintext as before', async () => {
      const user = await createUser(A, 'Secret.Person@Example.com', 'Secret Person');
      const project = await createProject(A, user.id, 'the plan nobody may read');
      const [row] = await ownerRows(A, 'users', 'id = $2', [user.id]);
      assert.match(row.email, /^enc1:1:[A-Za-z0-9+/=]+$/);
      assert.ok(!row.email.includes('secret.person'), row.email);
      assert.equal((row.email_index as Buffer).length, 32);
      assert.equal(row.name, 'Secret Person', 'columns not marked stay as they are');
      const [p] = await ownerRows(A, 'projects', 'id = $2', [project.id]);
      assert.match(p.description, /^enc1:1:/);
      assert.ok(!p.description.includes('plan'));
      // Two encryptions of one value differ (a random IV each).
      const twin = await createUser(B, 'secret.person@example.com');
      const [twinRow] = await ownerRows(B, 'users', 'id = $2', [twin.id]);
      assert.notEqual(twinRow.email, row.email);
      assert.notDeepEqual(twinRow.email_index, row.email_index, 'blind indexes are keyed per tenant');

      const got = await request(t.http).get(`/users/${user.id}`).set(as(A));
      assert.equal(got.status, 200);
      assert.equal(got.body.email, 'secret.person@example.com');
      const gotProject = await request(t.http).get(`/projects/${project.id}`).set(as(A));
      assert.equal(gotProject.body.description, 'the plan nobody may read');
      assert.equal(gotProject.body.createdBy.email, 'secret.person@example.com');
      const list = await request(t.http).get('/projects').set(as(A));
      assert.ok(list.body.items.some((i: Row) => i.description === 'the plan nobody may read'));
      const patched = await request(t.http).patch(`/users/${user.id}`).set(as(A)).send({ email: 'renamed@example.com' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.email, 'renamed@example.com');
      // A lookup by the whole email goes through the blind index.
      const found = await request(t.http).get('/users').query({ q: 'Renamed@Example.com' }).set(as(A));
      assert.deepEqual(
        found.body.items.map((i: Row) => i.id),
        [user.id],
      );
      const none = await request(t.http).get('/users').query({ q: 'renamed@example.com' }).set(as(B));
      assert.deepEqual(none.body.items, []);
      // With no tenant in context, neither a blind index nor a value can be had: the kit's typed error.
      assert.throws(() => blindIndex(User, 'email', 'x@example.com'), NoTenantContextError);
    });

    it('keeps emails unique per tenant through the blind index: 409 in the same tenant, fine in another', async () => {
      await createUser(A, 'unique@example.com');
      const again = await request(t.http).post('/users').set(as(A)).send({ email: 'UNIQUE@example.com', name: 'Again' });
      assert.equal(again.status, 409);
      assert.doesNotMatch(JSON.stringify(again.body), /email_index|duplicate key|tenant_id/);
      await createUser(B, 'unique@example.com');
      const other = await createUser(A, 'other@example.com');
      const patch = await request(t.http).patch(`/users/${other.id}`).set(as(A)).send({ email: 'unique@example.com' });
      assert.equal(patch.status, 409);
    });

    it('a ciphertext copied into another tenant’s row, or another column, does not decrypt: 409 with a typed message', async () => {
      const victim = await createUser(A, 'victim@example.com');
      const victimProject = await createProject(A, victim.id, 'victim notes');
      const holder = await createUser(B, 'holder@example.com');
      const holderProject = await createProject(B, holder.id, 'holder notes');
      const [stolen] = await ownerRows(A, 'users', 'id = $2', [victim.id]);
      const [stolenProject] = await ownerRows(A, 'projects', 'id = $2', [victimProject.id]);
      await ownerUpdate(B, `UPDATE users SET email = $1 WHERE tenant_id = $2 AND id = $3`, [stolen.email, B, holder.id]);
      await ownerUpdate(B, `UPDATE projects SET description = $1 WHERE tenant_id = $2 AND id = $3`, [
        stolenProject.description,
        B,
        holderProject.id,
      ]);
      for (const path of [`/users/${holder.id}`, `/projects/${holderProject.id}`, '/users?limit=100']) {
        const res = await request(t.http).get(path).set(as(B));
        assert.equal(res.status, 409, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'Conflict');
        assert.match(res.body.message, /cannot be decrypted with this tenant's key/);
        assert.doesNotMatch(JSON.stringify(res.body), /victim|Unsupported state|authenticate/);
      }
      // Within one tenant, a value moved to another column does not decrypt either.
      const own = await createProject(A, victim.id, 'x');
      await ownerUpdate(A, `UPDATE projects SET description = $1 WHERE tenant_id = $2 AND id = $3`, [stolen.email, A, own.id]);
      assert.equal((await request(t.http).get(`/projects/${own.id}`).set(as(A))).status, 409);
      // The damaged records can still be deleted; the victim's own are untouched.
      assert.equal((await request(t.http).delete(`/projects/${holderProject.id}`).set(as(B))).status, 204);
      assert.equal((await request(t.http).delete(`/users/${holder.id}`).set(as(B))).status, 204);
      assert.equal((await request(t.http).delete(`/projects/${own.id}`).set(as(A))).status, 204);
      assert.equal((await request(t.http).get(`/users/${victim.id}`).set(as(A))).body.email, 'victim@example.com');
    });

    it('a value naming a key version the tenant never had: 503 at most once (keys re-read), then 409, not a retry forever', async () => {
      const user = await createUser(A, 'version@example.com');
      const [row] = await ownerRows(A, 'users', 'id = $2', [user.id]);
      const forged = String(row.email).replace(/^enc1:\d+:/, 'enc1:99:');
      await ownerUpdate(A, `UPDATE users SET email = $1 WHERE tenant_id = $2 AND id = $3`, [forged, A, user.id]);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await request(t.http).get(`/users/${user.id}`).set(as(A))).status);
      // The first read may take the version for one another instance just made (503, keys re-read);
      // once the keys were read again and lack it, it cannot be decrypted.
      assert.ok(statuses[0] === 503 || statuses[0] === 409, JSON.stringify(statuses));
      assert.deepEqual(statuses.slice(1), [409, 409]);
      assert.equal((await request(t.http).delete(`/users/${user.id}`).set(as(A))).status, 204);
    });

    it('exports the tenant decrypted (plaintext in the NDJSON)', async () => {
      const lines: string[] = [];
      for await (const line of t.app.get(TenantExporter).export(t.app.get(TenantCatalog).get(A)!)) lines.push(line);
      const rows = lines.slice(1).map((l) => JSON.parse(l) as { table: string; row: Row });
      const emails = rows.filter((r) => r.table === 'users').map((r) => r.row.email);
      assert.ok(emails.includes('victim@example.com'), JSON.stringify(emails));
      assert.ok(rows.some((r) => r.table === 'projects' && r.row.description === 'victim notes'));
      assert.doesNotMatch(lines.join(''), /enc1:/);
    });

    it('re-encrypts the tenant under a new data key while it is served; a stopped run resumes', async () => {
      const seeded: { id: string; email: string }[] = [];
      for (let i = 0; i < 30; i++) seeded.push(await createUser(A, `rot${i}@example.com`, `Rot ${i}`));
      const failures: string[] = [];
      let served = 0;
      let stop = false;
      const traffic = (async () => {
        for (let i = 0; !stop; i++) {
          const pick = seeded[i % seeded.length];
          const [read, write] = await Promise.all([
            request(t.http).get(`/users/${pick.id}`).set(as(A)),
            request(t.http)
              .post('/users')
              .set(as(A))
              .send({ email: `live${i}@example.com`, name: `Live ${i}` }),
          ]);
          if (read.status !== 200 || read.body.email !== pick.email) failures.push(`GET ${read.status} ${JSON.stringify(read.body)}`);
          if (write.status !== 201) failures.push(`POST ${write.status} ${JSON.stringify(write.body)}`);
          served += 2;
        }
      })();
      const reencryption = t.app.get(TenantReencryption);
      // The first run stops after its second batch, as a killed command would.
      let batches = 0;
      await assert.rejects(
        reencryption.run(A, {
          batchSize: 7,
          onProgress: () => {
            if (++batches === 2) throw new Error('stopped');
          },
        }),
        /stopped/,
      );
      const report = await reencryption.run(A, { batchSize: 7 });
      stop = true;
      await traffic;
      assert.deepEqual(failures, []);
      assert.ok(served >= 4, `only ${served} requests were served during the re-encryption`);
      assert.equal(report.resumed, true);
      assert.equal(report.version, 2);
      const users = await ownerRows(A, 'users');
      const projects = await ownerRows(A, 'projects', 'description IS NOT NULL');
      for (const r of [...users.map((u) => u.email), ...projects.map((p) => p.description)]) assert.match(r, /^enc1:2:/);
      for (const u of seeded) assert.equal((await request(t.http).get(`/users/${u.id}`).set(as(A))).body.email, u.email);
      // The blind index outlives the rotation: lookups and uniqueness still hold.
      assert.equal((await request(t.http).post('/users').set(as(A)).send({ email: seeded[0].email, name: 'Dup' })).status, 409);
      const found = await request(t.http).get('/users').query({ q: seeded[3].email }).set(as(A));
      assert.deepEqual(
        found.body.items.map((i: Row) => i.id),
        [seeded[3].id],
      );
    });

    it(`a move to the ${NEXT[model]} model carries the ciphertext unchanged`, async () => {
      const user = await createUser(B, 'mover@example.com');
      const project = await createProject(B, user.id, 'moving notes');
      const before = {
        user: (await ownerRows(B, 'users', 'id = $2', [user.id]))[0],
        project: (await ownerRows(B, 'projects', 'id = $2', [project.id]))[0],
      };
      await t.app.get(TenantMover).move(B, { strategy: NEXT[model] });
      assert.equal(t.app.get(TenantCatalog).get(B)!.strategy, NEXT[model]);
      const after = {
        user: (await ownerRows(B, 'users', 'id = $2', [user.id]))[0],
        project: (await ownerRows(B, 'projects', 'id = $2', [project.id]))[0],
      };
      assert.equal(after.user.email, before.user.email);
      assert.deepEqual(after.user.email_index, before.user.email_index);
      assert.equal(after.project.description, before.project.description);
      assert.equal((await request(t.http).get(`/projects/${project.id}`).set(as(B))).body.createdBy.email, 'mover@example.com');
      assert.equal((await request(t.http).post('/users').set(as(B)).send({ email: 'mover@example.com', name: 'Dup' })).status, 409);
    });

    it('deleting a tenant destroys its data keys first: a backup of its rows taken before cannot be decrypted', async () => {
      const user = await createUser(C, 'shredded@example.com');
      await createProject(C, user.id, 'shredded notes');
      // The backup: the tenant's rows as the owner reads them (what pg_dump or COPY would keep).
      const backup = await ownerRows(C, 'users');
      const control = (sql: string, params: unknown[]) =>
        withOwnerClient(t.controlDatabase, async (c) => (await c.query(sql, params)).rows);
      const keysBefore = await control(`SELECT version, kek_id, wrapped_key FROM tenancy.tenant_keys WHERE tenant = $1`, [C]);
      assert.equal(keysBefore.length, 1);
      // With the key as it was, the backup decrypts (the test can tell the difference).
      const dek = await LocalKeyProvider.development().unwrap(
        { kekId: keysBefore[0].kek_id, wrapped: keysBefore[0].wrapped_key },
        { tenantId: C, version: 1 },
      );
      const context = { tenantId: C, table: 'users', column: 'email' };
      assert.equal(decryptValue(dek, backup[0].email, context), 'shredded@example.com');

      await t.app.get(TenantLifecycle).remove(C, { force: true });
      assert.deepEqual(await control(`SELECT 1 FROM tenancy.tenant_keys WHERE tenant = $1`, [C]), []);
      assert.equal(await t.app.get(TenantKeyring).read(C), undefined);

      // Restored into the tenant made again (it gets a new data key), the rows do not decrypt.
      await t.app.get(TenantProvisioner).provision({ id: C, name: C, strategy: model });
      const columns = Object.keys(backup[0]);
      await ownerUpdate(
        C,
        `INSERT INTO users (${columns.map(quoteIdent).join(', ')}) SELECT * FROM json_populate_recordset(NULL::users, $1)`,
        [JSON.stringify(backup.map((r) => ({ ...r, email_index: `\\x${(r.email_index as Buffer).toString('hex')}` })))],
      );
      const restored = await request(t.http).get(`/users/${user.id}`).set(as(C));
      assert.equal(restored.status, 409, JSON.stringify(restored.body));
      const [newKey] = await control(`SELECT wrapped_key FROM tenancy.tenant_keys WHERE tenant = $1`, [C]);
      const newDek = await LocalKeyProvider.development().unwrap(
        { kekId: 'dev', wrapped: newKey.wrapped_key },
        { tenantId: C, version: 1 },
      );
      assert.equal(decryptValue(newDek, backup[0].email, context), undefined);
    });
  });
}
