import { QueryBuilder, SelectQueryBuilder, type QueryRunner } from 'typeorm';
import { quoteLiteral } from '../core/sql';
import { isValidTenantId } from '../core/tenant-id';

/** The column that names a row's tenant in every tenant-owned table (see the README's database rules). */
export const TENANT_COLUMN = 'tenant_id';

/** The query runners whose queries get the predicate, with their tenant id as a quoted literal. */
const TENANT_OF_RUNNER = new WeakMap<QueryRunner, string>();

/** TypeORM's builder members this module reads (protected or internal in its typings). */
type Builder = QueryBuilder<object> & {
  queryRunner?: QueryRunner;
  createWhereExpression(): string;
  createJoinExpression(): string;
};

type JoinAttribute = Builder['expressionMap']['joinAttributes'][number];

/** The statements that take a WHERE clause from `createWhereExpression` (InsertQueryBuilder takes none). */
const FILTERED = new Set(['select', 'update', 'delete', 'soft-delete', 'restore']);

let installed = false;

/**
 * Makes every query TypeORM builds on `runner` (a unit of work's query runner) carry an explicit
 * `tenant_id = '<tenant>'` predicate for each entity that maps the `tenant_id` column, besides the
 * row-level security that stays the guarantee. The predicate is what lets Citus route a query to
 * the one shard of the tenant (its router planner needs a distribution-column filter; a policy's
 * `current_setting` is no such filter), and on plain PostgreSQL it is defence in depth.
 *
 * Covered: everything that goes through TypeORM's query builders on the runner, that is the
 * repositories' and the manager's find/findOne/findBy/count/exists, update, delete, softDelete,
 * restore and save (its load and its UPDATE), and `createQueryBuilder` (select, update, delete):
 * - the main entity: `AND <alias>.tenant_id = '<tenant>'` in the WHERE clause;
 * - each joined entity (relations, `leftJoin` of an entity): `AND <alias>.tenant_id = '<tenant>'`
 *   in its ON clause, so an outer join keeps its meaning and every table of the query is pinned.
 * Not covered: INSERT (its tenant_id comes from the column default, the tenant setting, which Citus
 * evaluates on the coordinator and routes by), raw SQL (`query()`), and entities without the column.
 *
 * The tenant id is validated (`isValidTenantId`) and written as a quoted literal: a bound parameter
 * would be lost where TypeORM copies a builder's SQL into another one (its DISTINCT sub-query for
 * `take` with joins), and a literal lets Citus prune shards at planning time.
 *
 * TypeORM 1.x builds every WHERE clause in `QueryBuilder.createWhereExpression` and every JOIN in
 * `SelectQueryBuilder.createJoinExpression`: both are wrapped once per process, and do nothing but
 * call the original for any builder whose runner was not registered here. The conditions are set on
 * the builder's expression map only while its SQL is built, and restored after.
 * @throws Error for an invalid tenant id (never reached: ids are validated at resolution).
 */
export function scopeQueriesToTenant(runner: QueryRunner, tenantId: string): void {
  if (!isValidTenantId(tenantId)) throw new Error('refusing to scope queries to an invalid tenant id');
  install();
  TENANT_OF_RUNNER.set(runner, quoteLiteral(tenantId));
}

function install(): void {
  if (installed) return;
  installed = true;
  const where = QueryBuilder.prototype as unknown as Builder;
  const createWhereExpression = where.createWhereExpression;
  where.createWhereExpression = function (this: Builder): string {
    const tenant = this.queryRunner && TENANT_OF_RUNNER.get(this.queryRunner);
    const map = this.expressionMap;
    if (!tenant || !FILTERED.has(map.queryType) || !map.mainAlias?.hasMetadata) return createWhereExpression.call(this);
    const column = map.mainAlias.metadata.findColumnWithDatabaseName(TENANT_COLUMN);
    if (!column) return createWhereExpression.call(this);
    const target = map.aliasNamePrefixingEnabled
      ? `${this.escape(map.mainAlias.name)}.${this.escape(column.databaseName)}`
      : this.escape(column.databaseName);
    const condition = `${target} = ${tenant}`;
    // TypeORM's own extra condition (the ids of a DISTINCT pass) is OR-ed ids: kept in parentheses.
    const extra = map.extraAppendedAndWhereCondition;
    map.extraAppendedAndWhereCondition = extra ? `(${extra}) AND ${condition}` : condition;
    try {
      return createWhereExpression.call(this);
    } finally {
      map.extraAppendedAndWhereCondition = extra;
    }
  };
  const join = SelectQueryBuilder.prototype as unknown as Builder;
  const createJoinExpression = join.createJoinExpression;
  join.createJoinExpression = function (this: Builder): string {
    const tenant = this.queryRunner && TENANT_OF_RUNNER.get(this.queryRunner);
    const joins: JoinAttribute[] = this.expressionMap.joinAttributes;
    if (!tenant || !joins.length) return createJoinExpression.call(this);
    const saved = joins.map((j) => j.condition);
    for (const j of joins) {
      if (!j.alias.hasMetadata) continue;
      const column = j.alias.metadata.findColumnWithDatabaseName(TENANT_COLUMN);
      if (!column) continue;
      const condition = `${this.escape(j.alias.name)}.${this.escape(column.databaseName)} = ${tenant}`;
      j.condition = j.condition ? `(${j.condition}) AND ${condition}` : condition;
    }
    try {
      return createJoinExpression.call(this);
    } finally {
      joins.forEach((j, i) => (j.condition = saved[i]));
    }
  };
}
