import { Injectable } from '@nestjs/common';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { quoteIdent, quoteLiteral } from '../catalog/tenant-naming';
import { UnsafeTenantTableError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../resolution/tenant-id';
import { AUDIT_EXEMPT_TABLES, auditTenantTarget } from './tenant-table-audit';

export type MigrationClass = new () => MigrationInterface;

export const LEDGER_TABLE = 'tenancy_migrations';

function nameOf(migration: MigrationClass): string {
  return new migration().name ?? migration.name;
}

/**
 * Applies a migration set to one schema in one transaction: a lock per schema (the caller's
 * lifecycle lock, or an advisory lock before there is one) keeps two runs (two instances, or the
 * CLI and a start-up) from migrating it at once, the ledger of applied
 * migrations lives in the schema itself so it commits or rolls back with the DDL, and the runtime
 * role gets DML on the tables and views (never on the ledger).
 *
 * A target granted to the runtime role (`grantTo`: every tenant target, never the control schema)
 * is audited first, in the same transaction (see auditTenantTarget): if any table, view or function
 * the runtime role could use does not isolate tenants, apply throws UnsafeTenantTableError naming
 * each one and what it lacks, the migrations roll back and nothing is granted (and an unsafe
 * table left from before, granted by an older version, has the runtime role's privileges revoked).
 */
@Injectable()
export class MigrationRunner {
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
    const s = quoteIdent(schema);
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // Any role may take an advisory lock: only the first start of a deployment (no lifecycle lock
      // table yet, and no runtime role either) relies on one.
      if (!lockedByCaller) await runner.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`tenancy:migrate:${schema}`]);
      await runner.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await runner.query(`SELECT set_config('search_path', $1, true)`, [s]);
      await runner.query(
        `CREATE TABLE IF NOT EXISTS ${s}.${LEDGER_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const rows: { name: string }[] = await runner.query(`SELECT name FROM ${s}.${LEDGER_TABLE}`);
      const applied = new Set(rows.map((r) => r.name));
      const done: string[] = [];
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
          await runner.query(`ALTER TABLE ${s}.${quoteIdent(name)} ADD CONSTRAINT tenant_pin CHECK (tenant_id = ${quoteLiteral(pinTenant)})`);
        }
      }
      if (grantTo) {
        const unsafe = await auditTenantTarget(runner, schema);
        if (unsafe.length) throw new UnsafeTenantTableError(schema, unsafe);
        const role = quoteIdent(grantTo);
        const granted = tables.filter((t) => !AUDIT_EXEMPT_TABLES.includes(t.name)).map((t) => `${s}.${quoteIdent(t.name)}`);
        await runner.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
        if (granted.length) await runner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ${granted.join(', ')} TO ${role}`);
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
