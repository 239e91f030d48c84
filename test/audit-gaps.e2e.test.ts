// Objects that escape the tenant-table audit: a rule on a tenant table, a SECURITY DEFINER function a
// tenant migration puts in another schema, and a security_invoker view over such a function. Each
// migration must be refused, or tenant b's runtime session must not read tenant a's row through it.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { TenancyConfigError, tenantTable, UnsafeTenantTableError } from '../libs/tenancy/src';
import { OwnerConnections } from '../libs/tenancy/src/connections/owner-connections';
import { RuntimeRole } from '../libs/tenancy/src/catalog/runtime-role';
import { MigrationRunner } from '../libs/tenancy/src/migrations/migration-runner';
import { startTestApp, TestApp } from './support/test-app';
import { urlFor, withOwnerClient } from './support/test-database';

function migrationOf(name: string, statements: (schema: string) => string[], schema: string): new () => MigrationInterface {
  return class implements MigrationInterface {
    name = name;
    async up(q: QueryRunner): Promise<void> {
      for (const sql of statements(schema)) await q.query(sql);
    }
    async down(): Promise<void> {}
  };
}

const NOTES = tenantTable('notes', { columns: ['body text NOT NULL'] });
const PEEK = tenantTable('peek', { columns: ['body text'] });

/** Each case: a migration that passes or fails the audit, and the runtime role's query, as tenant b, that must not see tenant a's note. */
const CASES: { title: string; sql: (s: string) => string[]; attack: (s: string) => string }[] = [
  {
    title: 'a rule on a tenant table (rule actions run as the table owner: a superuser owner skips RLS)',
    sql: () => [...NOTES, ...PEEK, `CREATE RULE peek_all AS ON INSERT TO peek DO INSTEAD SELECT n.tenant_id, n.body FROM notes n`],
    attack: () => `INSERT INTO peek (id, body) VALUES (gen_random_uuid(), 'x')`,
  },
  {
    title: 'a SECURITY DEFINER function the migration puts in another schema (public)',
    sql: (s) => [
      ...NOTES,
      `CREATE FUNCTION public.all_notes_${s}() RETURNS SETOF "${s}".notes LANGUAGE sql SECURITY DEFINER AS $$ SELECT * FROM "${s}".notes $$`,
    ],
    attack: (s) => `SELECT tenant_id, body FROM public.all_notes_${s}()`,
  },
  {
    title: 'a SECURITY INVOKER view over a SECURITY DEFINER function in another schema',
    sql: (s) => [
      ...NOTES,
      `CREATE FUNCTION public.notes_src_${s}() RETURNS SETOF "${s}".notes LANGUAGE sql SECURITY DEFINER AS $$ SELECT * FROM "${s}".notes $$`,
      `CREATE VIEW all_notes WITH (security_invoker = true) AS SELECT * FROM public.notes_src_${s}()`,
    ],
    attack: () => `SELECT tenant_id, body FROM all_notes`,
  },
];

describe('objects that would escape the tenant-table audit', () => {
  let t: TestApp;
  let control: DataSource;
  let runner: MigrationRunner;
  let creds: { user: string; password: string };
  let seq = 0;

  beforeAll(async () => {
    t = await startTestApp({ tenants: [{ id: 'at-s1', name: 'S1', strategy: 'shared' }] });
    control = await t.app.get(OwnerConnections).controlDataSource();
    runner = t.app.get(MigrationRunner);
    creds = await t.app.get(RuntimeRole).getCredentials();
  });
  afterAll(async () => {
    await t?.close();
  });

  for (const c of CASES) {
    it(`refuses, or isolates through, ${c.title}`, async () => {
      const schema = `attack_${++seq}`;
      let refused = false;
      try {
        await runner.apply(control, schema, [migrationOf(`Attack${seq}`, c.sql, schema)], t.runtimeRole);
      } catch (err) {
        if (!(err instanceof UnsafeTenantTableError)) throw err;
        refused = true;
      }
      if (refused) return;
      await withOwnerClient(t.controlDatabase, (o) =>
        o.query(
          `INSERT INTO "${schema}".notes (tenant_id, id, body) VALUES ('a', gen_random_uuid(), 'secret of a'), ('b', gen_random_uuid(), 'note of b')`,
        ),
      );
      const u = new URL(urlFor(t.controlDatabase));
      u.username = creds.user;
      u.password = creds.password;
      const client = new Client({ connectionString: u.toString() });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('app.tenant_id', 'b', true), set_config('search_path', $1, true)`, [`"${schema}"`]);
        const { rows } = await client.query(c.attack(schema));
        await client.query('ROLLBACK');
        const leaked = rows.filter((r: { tenant_id: string }) => r.tenant_id !== 'b');
        assert.deepEqual(leaked, [], `the migration passed the audit and tenant b's runtime session read: ${JSON.stringify(rows)}`);
      } finally {
        await client.end();
      }
    });
  }

  it('refuses a migration set that lists one migration twice, before touching the target', async () => {
    const once = migrationOf('TwiceListed', () => tenantTable('notes', { columns: ['body text'] }), 'dup_target');
    await assert.rejects(
      runner.apply(control, 'dup_target', [once, once], t.runtimeRole),
      (err: Error) => err instanceof TenancyConfigError && /"TwiceListed" is listed more than once/.test(err.message),
    );
    const left = await withOwnerClient(
      t.controlDatabase,
      async (c) => (await c.query(`SELECT to_regnamespace('dup_target') AS n`)).rows[0].n,
    );
    assert.equal(left, null);
  });
});
