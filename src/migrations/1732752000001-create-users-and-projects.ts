import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tenant-owned tables. Applied unchanged to the shared schema, to each tenant schema and to
 * each tenant database (the migration's transaction has search_path set to the target), so a
 * tenant's rows copy as they are from one model to another.
 *
 * - tenant_id defaults to the transaction's `app.tenant_id`; with no setting an insert fails.
 * - Keys and unique constraints lead with tenant_id: uniqueness is per tenant, and the composite
 *   foreign key means a project can never point at another tenant's user.
 * - RLS is enabled and forced, USING and WITH CHECK; an unset or empty setting matches no row.
 */
export class CreateUsersAndProjects1732752000001 implements MigrationInterface {
  name = 'CreateUsersAndProjects1732752000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'),
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        email text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id),
        CONSTRAINT users_email_key UNIQUE (tenant_id, email)
      )`);
    await q.query(`
      CREATE TABLE projects (
        tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id'),
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        description text CHECK (length(description) <= 2000),
        created_by_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, id),
        CONSTRAINT projects_created_by_fkey FOREIGN KEY (tenant_id, created_by_id)
          REFERENCES users (tenant_id, id) ON DELETE RESTRICT
      )`);
    await q.query(`CREATE INDEX projects_created_by_idx ON projects (tenant_id, created_by_id, id)`);
    for (const table of ['users', 'projects']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`
        CREATE POLICY tenant_isolation ON ${table}
          USING (tenant_id = nullif(current_setting('app.tenant_id', true), ''))
          WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), ''))`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE projects`);
    await q.query(`DROP TABLE users`);
  }
}
