// The audit the migration runner makes of every tenant target before it grants the runtime role
// anything: a table, view or function that would let one tenant reach another's rows is refused by
// name with what it lacks, the migration rolls back and nothing is granted, in all three models.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { TenantCatalog, TenantMigrations, tenantTable, UnsafeTenantTableError } from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { OwnerConnections } from '../libs/tenancy/src/connections/owner-connections';
import { type ResolvedTenancyOptions, TENANCY_OPTIONS } from '../libs/tenancy/src/config/tenancy-options';
import { MigrationRunner } from '../libs/tenancy/src/migrations/migration-runner';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

/** The migration: a tenant table with a tenant_id and tenant-led key, but no RLS at all. */
class NotesWithoutRls1732752200001 implements MigrationInterface {
  name = 'NotesWithoutRls1732752200001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'), id uuid, body text, PRIMARY KEY (tenant_id, id))`,
    );
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notes`);
  }
}

function migrationOf(name: string, statements: string[]): new () => MigrationInterface {
  return class implements MigrationInterface {
    name = name;
    async up(q: QueryRunner): Promise<void> {
      for (const sql of statements) await q.query(sql);
    }
    async down(): Promise<void> {}
  };
}

const SAFE = tenantTable('notes', { columns: ['body text NOT NULL'] });
const POLICY = `CREATE POLICY tenant_isolation ON notes USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')) WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), ''))`;
const RLS = [`ALTER TABLE notes ENABLE ROW LEVEL SECURITY`, `ALTER TABLE notes FORCE ROW LEVEL SECURITY`, POLICY];

/** Each case: the DDL of a migration and the lack the refusal must name (the object and its reason). */
const REFUSED: { title: string; sql: string[]; expect: RegExp }[] = [
  {
    title: 'the issue’s notes table without RLS',
    sql: [
      `CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'), id uuid, body text, PRIMARY KEY (tenant_id, id))`,
    ],
    expect: /table notes: row-level security is not enabled.*not forced.*no policy on the tenant setting/,
  },
  {
    title: 'no tenant_id column',
    sql: [
      `CREATE TABLE notes (id uuid PRIMARY KEY, body text)`,
      `ALTER TABLE notes ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE notes FORCE ROW LEVEL SECURITY`,
    ],
    expect: /table notes: no tenant_id column/,
  },
  {
    title: 'a nullable tenant_id',
    sql: [`CREATE TABLE notes (tenant_id text DEFAULT current_setting('app.tenant_id'), id uuid NOT NULL, body text)`, ...RLS],
    expect: /table notes: tenant_id is nullable/,
  },
  {
    title: 'RLS enabled but not forced',
    sql: [...SAFE.filter((s) => !s.includes('FORCE'))],
    expect: /table notes: row-level security is not forced/,
  },
  {
    title: 'RLS forced with no policy',
    sql: [...SAFE.filter((s) => !s.startsWith('CREATE POLICY'))],
    expect: /table notes: no policy on the tenant setting/,
  },
  {
    title: 'a policy on something else than the tenant setting',
    sql: [...SAFE.filter((s) => !s.startsWith('CREATE POLICY')), `CREATE POLICY everyone ON notes USING (true) WITH CHECK (true)`],
    expect: /table notes: no policy on the tenant setting.*policy everyone is permissive/,
  },
  {
    title: 'a second permissive policy beside the tenant one',
    sql: [...SAFE, `CREATE POLICY readers ON notes FOR SELECT USING (body IS NOT NULL)`],
    expect: /table notes: policy readers is permissive/,
  },
  {
    title: 'a primary key not led by tenant_id',
    sql: [
      `CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'), id uuid, body text, PRIMARY KEY (id, tenant_id))`,
      ...RLS,
    ],
    expect: /table notes: its primary key does not lead with tenant_id/,
  },
  {
    title: 'no primary key',
    sql: [`CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'), id uuid, body text)`, ...RLS],
    expect: /table notes: no primary key/,
  },
  {
    title: 'a unique constraint not led by tenant_id',
    sql: [...SAFE, `ALTER TABLE notes ADD CONSTRAINT notes_body_key UNIQUE (body)`],
    expect: /table notes: unique index or constraint notes_body_key does not lead with tenant_id/,
  },
  {
    title: 'a unique index on an expression',
    sql: [...SAFE, `CREATE UNIQUE INDEX notes_lower_body ON notes (lower(body), tenant_id)`],
    expect: /table notes: unique index or constraint notes_lower_body does not lead with tenant_id/,
  },
  {
    title: 'a foreign key that does not pair tenant_id',
    sql: [
      ...SAFE,
      ...tenantTable('pins', { columns: ['owner text NOT NULL', 'note_id uuid NOT NULL'] }),
      `ALTER TABLE pins ADD CONSTRAINT pins_note FOREIGN KEY (owner, note_id) REFERENCES notes (tenant_id, id)`,
    ],
    expect: /table pins: foreign key pins_note does not pair tenant_id/,
  },
  {
    title: 'a view without security_invoker',
    sql: [...SAFE, `CREATE VIEW all_notes AS SELECT * FROM notes`],
    expect: /view all_notes: .*bypasses row-level security.*security_invoker = true/,
  },
  {
    title: 'a materialized view',
    sql: [...SAFE, `CREATE MATERIALIZED VIEW note_counts AS SELECT tenant_id, count(*) FROM notes GROUP BY tenant_id`],
    expect: /materialized view note_counts: .*cannot have row-level security/,
  },
  {
    title: 'a SECURITY DEFINER function',
    sql: [...SAFE, `CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$ SELECT count(*) FROM notes $$`],
    expect: /function note_count\(\): is SECURITY DEFINER/,
  },
  {
    title: 'a function that sets the tenant',
    sql: [...SAFE, `CREATE FUNCTION as_acme() RETURNS bigint LANGUAGE sql SET app.tenant_id = 'acme' AS $$ SELECT count(*) FROM notes $$`],
    expect: /function as_acme\(\): sets app.tenant_id/,
  },
];

describe('the tenant-table audit', () => {
  let t: TestApp;
  let control: DataSource;
  let runner: MigrationRunner;
  let seq = 0;

  async function regclass(database: string, name: string): Promise<string | null> {
    return withOwnerClient(database, async (c) => (await c.query(`SELECT to_regclass($1)::text AS r`, [name])).rows[0].r);
  }

  /** Applies one migration to a fresh schema of the control database, granted to the runtime role. */
  async function applyCase(sql: string[]): Promise<{ schema: string; result: Promise<string[]> }> {
    const schema = `audit_case_${++seq}`;
    return { schema, result: runner.apply(control, schema, [migrationOf(`Case${seq}`, sql)], t.runtimeRole) };
  }

  beforeAll(async () => {
    t = await startTestApp({
      tenants: [
        { id: 'au-s1', name: 'S1', strategy: 'shared' },
        { id: 'au-c1', name: 'C1', strategy: 'schema' },
        { id: 'au-d1', name: 'D1', strategy: 'database' },
      ],
    });
    control = await t.app.get(OwnerConnections).controlDataSource();
    runner = t.app.get(MigrationRunner);
  });
  afterAll(async () => {
    await t?.close();
  });

  for (const c of REFUSED) {
    it(`refuses ${c.title}, rolls it back and grants nothing`, async () => {
      const { schema, result } = await applyCase(c.sql);
      const err: unknown = await result.then(
        () => assert.fail('the migration was applied'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof UnsafeTenantTableError, String(err));
      assert.match(err.message.replace(/\n/g, ' '), c.expect);
      assert.equal(err.schema, schema);
      // Rolled back: not even the schema is left, so the runtime role can reach nothing of it.
      const left = await withOwnerClient(
        t.controlDatabase,
        async (c2) => (await c2.query(`SELECT to_regnamespace($1) AS n`, [schema])).rows[0].n,
      );
      assert.equal(left, null);
    });
  }

  it('passes a table made with tenantTable() and a security_invoker view, and grants both', async () => {
    const sql = [
      ...SAFE,
      `CREATE VIEW long_notes WITH (security_invoker = true) AS SELECT * FROM notes WHERE length(body) > 100`,
      `CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM notes $$`,
    ];
    const { schema, result } = await applyCase(sql);
    assert.deepEqual(await result, [`Case${seq}`]);
    await withOwnerClient(t.controlDatabase, async (c) => {
      for (const rel of ['notes', 'long_notes']) {
        const { rows } = await c.query(`SELECT has_table_privilege($1, $2, 'SELECT, INSERT, UPDATE, DELETE') AS ok`, [
          t.runtimeRole,
          `${schema}.${rel}`,
        ]);
        assert.equal(rows[0].ok, true, rel);
      }
    });
  });

  it('grants the sequences of serial and identity columns, so the runtime role can insert into such a table', async () => {
    const sql = tenantTable('counters', {
      columns: ['n bigserial NOT NULL', 'm bigint GENERATED ALWAYS AS IDENTITY', 'label text NOT NULL'],
    });
    const { schema, result } = await applyCase(sql);
    assert.deepEqual(await result, [`Case${seq}`]);
    await withOwnerClient(t.controlDatabase, async (c) => {
      const { rows } = await c.query(
        `SELECT c.relname AS name, has_sequence_privilege($1, c.oid, 'USAGE') AS ok FROM pg_class c
          WHERE c.relkind = 'S' AND c.relnamespace = to_regnamespace($2) ORDER BY 1`,
        [t.runtimeRole, schema],
      );
      assert.equal(rows.length, 2);
      assert.deepEqual(
        rows.map((r) => r.ok),
        [true, true],
      );
    });
  });

  it('revokes the runtime role’s privileges on an unsafe table granted before the audit existed', async () => {
    // What an older version left: the notes table, applied and granted without a word.
    const schema = `audit_old_${++seq}`;
    await runner.apply(control, schema, [NotesWithoutRls1732752200001]);
    await withOwnerClient(t.controlDatabase, (c) =>
      c.query(
        `GRANT USAGE ON SCHEMA ${schema} TO "${t.runtimeRole}"; GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.notes TO "${t.runtimeRole}"`,
      ),
    );
    const privilege = () =>
      withOwnerClient(
        t.controlDatabase,
        async (c) => (await c.query(`SELECT has_table_privilege($1, $2, 'SELECT') AS ok`, [t.runtimeRole, `${schema}.notes`])).rows[0].ok,
      );
    assert.equal(await privilege(), true);
    await assert.rejects(
      runner.apply(control, schema, [NotesWithoutRls1732752200001], t.runtimeRole),
      /table notes: row-level security is not enabled/,
    );
    assert.equal(await privilege(), false);
  });

  it('does not audit the control schema (no grant): its tables need no tenant_id', async () => {
    const schema = `audit_control_${++seq}`;
    const done = await runner.apply(control, schema, [
      migrationOf(`Control${seq}`, [`CREATE TABLE settings (key text PRIMARY KEY, value text)`]),
    ]);
    assert.deepEqual(done, [`Control${seq}`]);
  });

  it('refuses the issue’s migration on every target of all three models: nothing applied, nothing granted, the ledger says failed', async () => {
    const migrations = t.app.get(TenantMigrations);
    const options = t.app.get(TENANCY_OPTIONS) as ResolvedTenancyOptions;
    const original = options.migrations;
    options.migrations = [...TENANT_MIGRATIONS, NotesWithoutRls1732752200001];
    try {
      const report = await migrations.run();
      const byTarget = new Map(report.outcomes.map((o) => [o.target, o]));
      assert.deepEqual([...byTarget.keys()].sort(), ['@shared', 'au-c1', 'au-d1']);
      for (const [target, outcome] of byTarget) {
        assert.equal(outcome.result, 'failed', target);
        assert.match(outcome.error!, /table notes: row-level security is not enabled/, target);
      }
      const strategies = t.app.get(IsolationStrategies);
      const catalog = t.app.get(TenantCatalog);
      const places = [
        strategies.for('shared').location({ id: 'shared', server: 'default' }),
        ...['au-c1', 'au-d1'].map((id) => strategies.for(catalog.get(id)!.strategy).location(catalog.get(id)!)),
      ];
      for (const place of places) {
        assert.equal(await regclass(place.database, `"${place.schema}".notes`), null, `${place.database}/${place.schema}`);
        const rows = await withOwnerClient(
          place.database,
          async (c) =>
            (await c.query(`SELECT name FROM "${place.schema}".tenancy_migrations WHERE name = 'NotesWithoutRls1732752200001'`)).rows,
        );
        assert.deepEqual(rows, [], 'the failed migration is not in the target’s ledger');
      }
      const status = await migrations.status();
      assert.ok(
        status.every((s) => s.status === 'failed' && /notes/.test(s.error ?? '')),
        JSON.stringify(status),
      );
    } finally {
      options.migrations = original;
    }
  });

  it('refuses to start with the issue’s migration, naming the table and row-level security', async () => {
    await assert.rejects(
      startTestApp({
        migrations: [...TENANT_MIGRATIONS, NotesWithoutRls1732752200001],
        tenants: [{ id: 'au-x', name: 'X', strategy: 'shared' }],
      }),
      (err: Error) => err instanceof UnsafeTenantTableError && /table notes: row-level security is not enabled/.test(err.message),
    );
  });
});
