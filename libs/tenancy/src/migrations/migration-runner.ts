import { Injectable } from '@nestjs/common';
import { CitusMode } from '../connections/citus-mode';
import { createSchemaIfAbsent, distributeSharedTables, distributeTenantSchema } from './citus-distribution';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { quoteIdent, quoteLiteral } from '../core/sql';
import { DeploymentOwnershipError, TenancyConfigError, UnsafeTenantTableError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';
import { AUDIT_EXEMPT_TABLES, auditOutsideSchema, auditTenantTarget, catalogHighWater } from './tenant-table-audit';

export type MigrationClass = new () => MigrationInterface;

export const LEDGER_TABLE = 'tenancy_migrations';
/**
 * The fenced tenants of a location (see strategies/location-fence.ts): a tenant listed here is
 * served read-only from this location. The runtime role may only read it.
 */
export const FENCE_TABLE = 'tenancy_fence';
/** `<schema>.tenancy_fenced(tenant)`: true (and the transaction made read-only) when the tenant is fenced there. */
export const FENCE_CHECK = 'tenancy_fenced';

function nameOf(migration: MigrationClass): string {
  return new migration().name ?? migration.name;
}

/**
 * Applies a migration set to one schema in one transaction: a lock per schema (the caller's
 * lifecycle lock, or an advisory lock before there is one) keeps two runs (two instances, or the
 * CLI and a start-up) from migrating it at once, the ledger of applied
 * migrations lives in the schema itself so it commits or rolls back with the DDL, and the runtime
 * role gets DML on the tables and views (never on the ledger). Beside the ledger, the fence table of
 * the location (`tenancy_fence`, read-only for the runtime role).
 *
 * A target granted to the runtime role (`grantTo`: every tenant target, never the control schema)
 * is audited first, in the same transaction (see auditTenantTarget): if any table, view or function
 * the runtime role could use does not isolate tenants, apply throws UnsafeTenantTableError naming
 * each one and what it lacks, the migrations roll back and nothing is granted (and an unsafe
 * table left from before, granted by an older version, has the runtime role's privileges revoked).
 *
 * The schema is created only when it does not exist (never `CREATE SCHEMA IF NOT EXISTS`, which
 * Citus's schema-based sharding takes as a new tenant schema). In Citus mode, when the target is in
 * a database that runs Citus, after the migrations: a shared target (granted, not pinned) has its
 * tables distributed by tenant_id (`distributeSharedTables`), a tenant schema (pinned) becomes a
 * distributed schema (`distributeTenantSchema`); the control schema stays on the coordinator.
 */
@Injectable()
export class MigrationRunner {
  constructor(private readonly citus: CitusMode) {}

  /**
   * `pinTenant`: the schema or database belongs to that one tenant; every tenant-owned table gets a
   * `tenant_pin` CHECK so no other tenant's row can ever be stored there, even by a runtime role
   * that can reach the schema (row-level security alone would let it store its own rows there).
   */
  async apply(
    ds: DataSource,
    schema: string,
    migrations: MigrationClass[],
    grantTo?: string,
    pinTenant?: string,
    /** The caller holds a lifecycle lock (ControlLocks) on this target: no advisory lock is taken. */
    lockedByCaller = false,
  ): Promise<string[]> {
    const names = migrations.map(nameOf);
    const twice = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
    if (twice.length)
      throw new TenancyConfigError(
        'migrations',
        twice.map((n) => `migration "${n}" is listed more than once: list each migration once`),
      );
    const s = quoteIdent(schema);
    const citus = await this.citus.detect();
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // Any role may take an advisory lock: only the first start of a deployment (no lifecycle lock
      // table yet, and no runtime role either) relies on one.
      if (!lockedByCaller) await runner.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`tenancy:migrate:${schema}`]);
      await createSchemaIfAbsent(runner, schema, citus);
      await runner.query(`SELECT set_config('search_path', $1, true)`, [s]);
      await runner.query(
        `CREATE TABLE IF NOT EXISTS ${s}.${LEDGER_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const [fence] = await runner.query(`SELECT to_regclass($1) AS oid`, [`${s}.${FENCE_TABLE}`]);
      if (!fence.oid) {
        // Under forced RLS like every table the runtime role can reach: a transaction sees only its
        // own tenant's row (which tenants are being moved is nobody else's business).
        await runner.query(`CREATE TABLE ${s}.${FENCE_TABLE} (tenant text PRIMARY KEY, fenced_at timestamptz NOT NULL DEFAULT now())`);
        await runner.query(`ALTER TABLE ${s}.${FENCE_TABLE} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
        await runner.query(
          `CREATE POLICY fence_of_tenant ON ${s}.${FENCE_TABLE} USING (tenant = nullif(current_setting('app.tenant_id', true), ''))`,
        );
      }
      // The kit's own objects must be the owner's: one of their names made by another role is refused.
      const [foreign] = await runner.query(
        `SELECT string_agg(x.name, ', ') AS names FROM (
           SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
           UNION ALL
           SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.oid = to_regprocedure($2) AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)) x`,
        [`${s}.${FENCE_TABLE}`, `${s}.${FENCE_CHECK}(text)`],
      );
      if (foreign.names)
        throw new DeploymentOwnershipError(
          `${foreign.names} in schema "${schema}" belong to another role than the owner: the kit refuses to use them; drop them.`,
        );
      const [check] = await runner.query(`SELECT to_regprocedure($1) AS oid`, [`${s}.${FENCE_CHECK}(text)`]);
      if (!check.oid) {
        // The preamble's fence check, in a function so that its plan is cached per session (as a
        // statement of its own, parsed and planned in every transaction, it cost three times more).
        // It sets the tenant itself first, so it never depends on the order in which the preamble's
        // columns are evaluated; it runs as the caller, under the table's row-level security.
        await runner.query(
          `CREATE FUNCTION ${s}.${FENCE_CHECK}(fenced_tenant text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fence$
           BEGIN
             PERFORM pg_catalog.set_config('app.tenant_id', fenced_tenant, true);
             IF EXISTS (SELECT 1 FROM ${s}.${FENCE_TABLE} f WHERE f.tenant = fenced_tenant) THEN
               PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
               RETURN true;
             END IF;
             RETURN false;
           END $fence$`,
        );
        await runner.query(`REVOKE ALL ON FUNCTION ${s}.${FENCE_CHECK}(text) FROM PUBLIC`);
      }
      const rows: { name: string }[] = await runner.query(`SELECT name FROM ${s}.${LEDGER_TABLE}`);
      const applied = new Set(rows.map((r) => r.name));
      const done: string[] = [];
      // Where the catalogs' object ids stand before this target's migrations: what they create
      // outside the target is found above these marks, by index (see auditOutsideSchema).
      const before = grantTo && migrations.some((m) => !applied.has(nameOf(m))) ? await catalogHighWater(runner) : undefined;
      for (const migration of migrations) {
        const name = nameOf(migration);
        if (applied.has(name)) continue;
        await new migration().up(runner);
        await runner.query(`INSERT INTO ${s}.${LEDGER_TABLE} (name) VALUES ($1)`, [name]);
        done.push(name);
      }
      // The schema's tables, found through pg_depend's index: a scan of pg_class by namespace (what
      // GRANT ... ON ALL TABLES IN SCHEMA does) costs O(every relation of the database), which
      // with 10,000 tenant schemas made each tenant's migration ten times slower.
      const tables: { name: string; kind: string; tenantOwned: boolean; pinned: boolean }[] = await runner.query(
        `SELECT c.relname AS name, c.relkind AS kind,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS "tenantOwned",
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.conname = 'tenant_pin') AS pinned
           FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
          WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_namespace'::regclass
            AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p', 'v')`,
        [schema],
      );
      if (pinTenant) {
        if (!isValidTenantId(pinTenant)) throw new Error('refusing to pin a schema to an invalid tenant id');
        for (const { name } of tables.filter((t) => t.kind !== 'v' && t.tenantOwned && !t.pinned)) {
          await runner.query(
            `ALTER TABLE ${s}.${quoteIdent(name)} ADD CONSTRAINT tenant_pin CHECK (tenant_id = ${quoteLiteral(pinTenant)})`,
          );
        }
      }
      if (citus && grantTo && (await this.citus.isCoordinator(runner))) {
        if (pinTenant) await distributeTenantSchema(runner, schema);
        else await distributeSharedTables(runner, schema);
      }
      if (grantTo) {
        const unsafe = [
          ...(done.length && before ? await auditOutsideSchema(runner, schema, before) : []),
          ...(await auditTenantTarget(runner, schema)),
        ];
        if (unsafe.length) throw new UnsafeTenantTableError(schema, unsafe);
        const role = quoteIdent(grantTo);
        // The kit's own tables (the ledger, the fence) get no DML; the fence is readable below.
        const granted = tables.filter((t) => !AUDIT_EXEMPT_TABLES.includes(t.name)).map((t) => `${s}.${quoteIdent(t.name)}`);
        await runner.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
        if (granted.length) await runner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ${granted.join(', ')} TO ${role}`);
        // Sequences of identity and serial columns: without USAGE an INSERT that takes a value fails.
        const sequences: { name: string }[] = await runner.query(
          `SELECT c.relname AS name FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_namespace'::regclass
              AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'S'`,
          [schema],
        );
        if (sequences.length) {
          await runner.query(`GRANT USAGE, SELECT ON SEQUENCE ${sequences.map((q) => `${s}.${quoteIdent(q.name)}`).join(', ')} TO ${role}`);
        }
        await runner.query(`GRANT SELECT ON TABLE ${s}.${FENCE_TABLE} TO ${role}`);
        await runner.query(`GRANT EXECUTE ON FUNCTION ${s}.${FENCE_CHECK}(text) TO ${role}`);
      }
      await runner.commitTransaction();
      return done;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      // An unsafe object that outlives the rollback was made before this audit existed, and granted
      // then: take the runtime role's privileges on it away too.
      if (err instanceof UnsafeTenantTableError && grantTo) await this.revoke(runner, schema, err, grantTo).catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  private async revoke(runner: QueryRunner, schema: string, err: UnsafeTenantTableError, role: string): Promise<void> {
    for (const o of err.objects.filter((x) => x.kind !== 'function')) {
      const name = `${quoteIdent(schema)}.${quoteIdent(o.name)}`;
      const [row] = await runner.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [name]);
      if (row.present) await runner.query(`REVOKE ALL ON TABLE ${name} FROM ${quoteIdent(role)}`);
    }
  }
}
