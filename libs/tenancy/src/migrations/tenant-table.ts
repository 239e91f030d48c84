import type { QueryRunner } from 'typeorm';
import { quoteIdent } from '../core/sql';

/** The tenant setting every policy compares against: no setting (or `''`) matches no row. */
export const TENANT_SETTING_EXPRESSION = `nullif(current_setting('app.tenant_id', true), '')`;

export interface TenantForeignKey {
  /** This table's columns, without tenant_id (it is prepended), e.g. `['note_id']`. */
  columns: string[];
  /** The referenced tenant table (same schema). */
  references: string;
  /** Its key columns, without tenant_id. Default `['id']`. */
  referencedColumns?: string[];
  /** Default `RESTRICT`. `SET NULL` nulls only `columns`, never tenant_id (PostgreSQL 15+). */
  onDelete?: 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'NO ACTION';
}

export interface TenantTableSpec {
  /**
   * The feature's own columns as SQL, e.g. `['body text NOT NULL', 'created_at timestamptz NOT NULL DEFAULT now()']`.
   * Never tenant_id (the helper writes it). Without a column named `id`, the helper adds
   * `id uuid NOT NULL DEFAULT gen_random_uuid()`.
   */
  columns: string[];
  /** Primary key columns after tenant_id. Default `['id']`. */
  primaryKey?: string[];
  /** Unique constraints, each without tenant_id (it leads every one). */
  unique?: string[][];
  /** Composite foreign keys `(tenant_id, ...columns) REFERENCES table (tenant_id, ...referencedColumns)`. */
  foreignKeys?: TenantForeignKey[];
  /** Plain indexes, each without tenant_id (it leads every one). */
  indexes?: string[][];
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function name(value: string, what: string): string {
  if (!NAME.test(value)) throw new Error(`tenantTable: ${what} '${value}' must be a lower-case SQL identifier (a-z, 0-9, _).`);
  return value;
}

function keyList(columns: string[], what: string): string {
  if (columns.includes('tenant_id'))
    throw new Error(`tenantTable: leave tenant_id out of the ${what}; it always leads and is added for you.`);
  return ['tenant_id', ...columns].map((c) => quoteIdent(name(c, `${what} column`))).join(', ');
}

/**
 * The DDL of a tenant-owned table, as statements to run in order inside a tenant migration (whose
 * search_path is the target schema, so the table is created there in every model):
 * `tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id')`; the primary key, unique
 * constraints and indexes led by tenant_id; composite foreign keys `(tenant_id, x_id)`; row-level
 * security enabled and forced; and the policy `tenant_isolation` with USING and WITH CHECK
 * `tenant_id = nullif(current_setting('app.tenant_id', true), '')`. This is what the migration
 * runner's audit requires of every table the runtime role may use.
 *
 * Throws a plain Error on a name that is not a lower-case identifier or a key that names tenant_id.
 */
export function tenantTable(table: string, spec: TenantTableSpec): string[] {
  const t = quoteIdent(name(table, 'table name'));
  if (spec.columns.some((c) => /^\s*"?tenant_id"?\s/i.test(c)))
    throw new Error('tenantTable: leave tenant_id out of columns; the helper writes it.');
  const hasId = spec.columns.some((c) => /^\s*"?id"?\s/i.test(c));
  const lines = [
    `tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id')`,
    ...(hasId ? [] : ['id uuid NOT NULL DEFAULT gen_random_uuid()']),
    ...spec.columns,
    `CONSTRAINT ${quoteIdent(`${table}_pkey`)} PRIMARY KEY (${keyList(spec.primaryKey ?? ['id'], 'primary key')})`,
    ...(spec.unique ?? []).map((cols) => `CONSTRAINT ${quoteIdent(`${table}_${cols.join('_')}_key`)} UNIQUE (${keyList(cols, 'unique')})`),
    ...(spec.foreignKeys ?? []).map((fk) => {
      const onDelete =
        fk.onDelete === 'SET NULL' ? `SET NULL (${fk.columns.map((c) => quoteIdent(c)).join(', ')})` : (fk.onDelete ?? 'RESTRICT');
      return (
        `CONSTRAINT ${quoteIdent(`${table}_${fk.columns.join('_')}_fkey`)} FOREIGN KEY (${keyList(fk.columns, 'foreign key')}) ` +
        `REFERENCES ${quoteIdent(name(fk.references, 'referenced table'))} (${keyList(fk.referencedColumns ?? ['id'], 'referenced key')}) ON DELETE ${onDelete}`
      );
    }),
  ];
  return [
    `CREATE TABLE ${t} (\n  ${lines.join(',\n  ')}\n)`,
    ...(spec.indexes ?? []).map(
      (cols) => `CREATE INDEX ${quoteIdent(`${table}_${cols.join('_')}_idx`)} ON ${t} (${keyList(cols, 'index')})`,
    ),
    `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY tenant_isolation ON ${t} USING (tenant_id = ${TENANT_SETTING_EXPRESSION}) WITH CHECK (tenant_id = ${TENANT_SETTING_EXPRESSION})`,
  ];
}

/** Runs `tenantTable(table, spec)` on the migration's query runner. */
export async function createTenantTable(queryRunner: QueryRunner, table: string, spec: TenantTableSpec): Promise<void> {
  for (const sql of tenantTable(table, spec)) await queryRunner.query(sql);
}
