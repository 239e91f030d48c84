import { Injectable } from '@nestjs/common';
import { DataSource, MigrationInterface } from 'typeorm';
import { quoteIdent } from '../catalog/tenant-naming';

export type MigrationClass = new () => MigrationInterface;

export const LEDGER_TABLE = 'tenancy_migrations';

function nameOf(migration: MigrationClass): string {
  return new migration().name ?? migration.name;
}

/**
 * Applies a migration set to one schema in one transaction: an advisory lock per schema keeps two
 * runs (two instances, or the CLI and a start-up) from migrating it at once, the ledger of applied
 * migrations lives in the schema itself so it commits or rolls back with the DDL, and the runtime
 * role gets DML on the tables (never on the ledger).
 */
@Injectable()
export class MigrationRunner {
  async apply(ds: DataSource, schema: string, migrations: MigrationClass[], grantTo?: string): Promise<string[]> {
    const s = quoteIdent(schema);
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`tenancy:migrate:${schema}`]);
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
      if (grantTo) {
        const role = quoteIdent(grantTo);
        await runner.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
        await runner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role}`);
        await runner.query(`REVOKE ALL ON ${s}.${LEDGER_TABLE} FROM ${role}`);
      }
      await runner.commitTransaction();
      return done;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** Names of the migrations of `migrations` not yet applied to `schema` (all of them if it is missing). */
  async pending(ds: DataSource, schema: string, migrations: MigrationClass[]): Promise<string[]> {
    const [exists] = await ds.query(`SELECT to_regclass($1) AS t`, [`${quoteIdent(schema)}.${LEDGER_TABLE}`]);
    const applied = new Set<string>(
      exists?.t ? (await ds.query(`SELECT name FROM ${quoteIdent(schema)}.${LEDGER_TABLE}`)).map((r: { name: string }) => r.name) : [],
    );
    return migrations.map(nameOf).filter((n) => !applied.has(n));
  }
}
