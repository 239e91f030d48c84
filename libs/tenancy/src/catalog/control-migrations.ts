import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The control tables, applied to the control schema (the search_path of the migration's
 * transaction). A trigger notifies every instance of each catalog change.
 */
export class CreateTenantCatalog1732752000000 implements MigrationInterface {
  name = 'CreateTenantCatalog1732752000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tenants (
        id text PRIMARY KEY CHECK (id ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
        name text NOT NULL,
        tier text,
        strategy text NOT NULL CHECK (strategy IN ('shared', 'schema', 'database')),
        server text NOT NULL DEFAULT 'default',
        status text NOT NULL DEFAULT 'provisioning'
          CHECK (status IN ('provisioning', 'active', 'suspended', 'moving', 'deleting')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL)`);
    await q.query(`
      CREATE FUNCTION notify_tenant_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('tenancy_catalog', COALESCE(NEW.id, OLD.id));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON tenants
      FOR EACH ROW EXECUTE FUNCTION notify_tenant_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tenants`);
    await q.query(`DROP TABLE settings`);
    await q.query(`DROP FUNCTION notify_tenant_change()`);
  }
}

/**
 * The migration ledger: the version each target (the shared tables, or a tenant's schema or
 * database) is on, so a run skips current targets without opening a connection to them, and the
 * last error of a failed one. The authoritative record of what was applied stays inside each
 * target, committed with its DDL; this table is the index over all of them.
 */
export class CreateMigrationLedger1732752000002 implements MigrationInterface {
  name = 'CreateMigrationLedger1732752000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE migration_ledger (
        target text PRIMARY KEY,
        server text NOT NULL,
        version text,
        status text NOT NULL CHECK (status IN ('current', 'failed')),
        error text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE migration_ledger`);
  }
}

/** When a tenant was last exported (deletion asks for one first), and the state of tenant moves. */
export class CreateExportsAndMoves1732752000003 implements MigrationInterface {
  name = 'CreateExportsAndMoves1732752000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants ADD COLUMN exported_at timestamptz`);
    await q.query(`
      CREATE TABLE tenant_moves (
        tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        source_strategy text NOT NULL,
        source_server text NOT NULL,
        target_strategy text NOT NULL CHECK (target_strategy IN ('shared', 'schema', 'database')),
        target_server text NOT NULL,
        phase text NOT NULL,
        progress jsonb NOT NULL DEFAULT '{}',
        error text,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tenant_moves`);
    await q.query(`ALTER TABLE tenants DROP COLUMN exported_at`);
  }
}

/**
 * Lifecycle locks (a move, a delete, a provisioning, the runtime role's creation) as rows locked
 * FOR UPDATE in the control schema: the runtime role cannot read this schema, so it cannot take or
 * hold one (it could take any advisory lock, which every role can).
 */
export class CreateLifecycleLocks1732752000004 implements MigrationInterface {
  name = 'CreateLifecycleLocks1732752000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE locks (key text PRIMARY KEY)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE locks`);
  }
}

/**
 * What the tenants file may no longer do once a tenant is in the catalog (the catalog is the truth,
 * the file only seeds it): `deleted_tenants` keeps the ids deleted since, which seeding does not
 * recreate (provisioning one explicitly takes it off the list); `seed_reports` keeps, per tenant,
 * the last difference between the file and the catalog that was reported, so a difference is
 * reported once, not at every start.
 */
export class CreateSeedRecords1732752000005 implements MigrationInterface {
  name = 'CreateSeedRecords1732752000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE deleted_tenants (id text PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(
      `CREATE TABLE seed_reports (tenant_id text PRIMARY KEY, report text NOT NULL, reported_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE seed_reports`);
    await q.query(`DROP TABLE deleted_tenants`);
  }
}

/**
 * The usage ledger: per tenant and minute (UTC, the minute's start), the units of work that ended
 * (HTTP requests and `TenancyService.run` calls), how many failed, their database time in
 * milliseconds and the rows their statements wrote. Every instance adds its own counts to the same
 * rows (`UsageLedger` upserts with `+`), so a row is the sum over instances. A deleted tenant's
 * rows go with it (`TenantCatalog.remove`); no foreign key, so a flush never waits on the catalog's
 * row locks. The index on `minute` serves the reports over every tenant of a period.
 */
export class CreateUsageLedger1732752000006 implements MigrationInterface {
  name = 'CreateUsageLedger1732752000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_minutes (
        tenant_id text NOT NULL,
        minute timestamptz NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        errors bigint NOT NULL DEFAULT 0,
        database_ms double precision NOT NULL DEFAULT 0,
        rows_written bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, minute)
      )`);
    await q.query(`CREATE INDEX usage_minutes_minute ON usage_minutes (minute)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_minutes`);
  }
}

/**
 * Tenants' data keys, wrapped by a key-encryption key (`kek_id` names it), one row per key version
 * (see encryption/tenant-keyring.ts): deleting a tenant deletes its rows (crypto-shredding), so no
 * "destroyed" flag is kept; `deleted_tenants` says when. `key_rotations` records each tenant's
 * re-encryption under a new version (its target and how far it got), so a stopped one resumes.
 * The column is `tenant`, not `tenant_id`: these are the kit's records about a tenant, not rows of
 * a tenant-owned table (which is what a `tenant_id` column marks).
 */
export class CreateTenantKeys1732752000008 implements MigrationInterface {
  name = 'CreateTenantKeys1732752000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tenant_keys (
        tenant text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version > 0),
        kek_id text NOT NULL,
        wrapped_key bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, version)
      )`);
    await q.query(`
      CREATE TABLE key_rotations (
        tenant text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        target_version integer NOT NULL,
        progress jsonb NOT NULL DEFAULT '{}',
        rows_done bigint NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE key_rotations`);
    await q.query(`DROP TABLE tenant_keys`);
  }
}

/**
 * The snapshot an export read from: `exported_snapshot` is the `pg_current_snapshot()` of the
 * export's transaction on the tenant's server (PostgreSQL 13+, "Transaction ID and Snapshot
 * Information Functions"), so a delete without force can tell whether a row of the tenant was
 * written since. NULL for an export made before this column existed (treated as stale), under
 * Citus, and after a move.
 */
export class AddExportSnapshot1732752000009 implements MigrationInterface {
  name = 'AddExportSnapshot1732752000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants ADD COLUMN exported_snapshot pg_snapshot`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants DROP COLUMN exported_snapshot`);
  }
}

export const CONTROL_MIGRATIONS = [
  CreateTenantCatalog1732752000000,
  CreateMigrationLedger1732752000002,
  CreateExportsAndMoves1732752000003,
  CreateLifecycleLocks1732752000004,
  CreateSeedRecords1732752000005,
  CreateUsageLedger1732752000006,
  CreateTenantKeys1732752000008,
  AddExportSnapshot1732752000009,
];
