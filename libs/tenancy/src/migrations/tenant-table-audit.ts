import type { QueryRunner } from 'typeorm';

/**
 * Tables the kit itself keeps in a tenant target, never given DML to the runtime role and so not
 * audited: the migration runner's ledger (LEDGER_TABLE) and the move fence (FENCE_TABLE, readable,
 * with forced row-level security of its own). Anything else in the schema is the
 * runtime role's to use and must isolate tenants.
 */
export const AUDIT_EXEMPT_TABLES: readonly string[] = ['tenancy_migrations', 'tenancy_fence'];

/** One object of a target that does not isolate tenants, and what it lacks. */
export interface UnsafeTenantObject {
  /** `table`, `view`, `materialized view`, `foreign table` or `function`. */
  kind: string;
  name: string;
  lacks: string[];
}

interface RelationRow {
  name: string;
  kind: string;
  options: string[] | null;
  rls: boolean;
  forced: boolean;
  has_tenant: boolean;
  tenant_not_null: boolean;
  has_pkey: boolean;
  pkey_leads: boolean;
  bad_unique: string[] | null;
  bad_fkeys: string[] | null;
  policies: { name: string; cmd: string; permissive: boolean; using: string | null; check: string | null }[] | null;
}

const KINDS: Record<string, string> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', f: 'foreign table' };

/** `tenant_id = nullif(current_setting('app.tenant_id', true), '')` as PostgreSQL deparses it, minus casts, spaces and parentheses. */
const TENANT_PREDICATE = `tenant_id=nullifcurrent_setting'app.tenant_id',true,''`;

function isTenantPredicate(expr: string | null): boolean {
  return (
    expr !== null &&
    expr
      .replace(/::text/g, '')
      .replace(/[\s()]/g, '')
      .toLowerCase() === TENANT_PREDICATE
  );
}

const TRUE_OPTION = /^security_invoker=(true|on|yes|1)$/i;

/**
 * The checks the migration runner makes on a tenant target (a shared, tenant-schema or
 * tenant-database schema) after its migrations and before any grant:
 *
 * - tables (and partitions): `tenant_id` present and NOT NULL; row-level security enabled and
 *   forced; a permissive policy for all commands whose USING (and WITH CHECK, if given) is exactly
 *   `tenant_id = nullif(current_setting('app.tenant_id', true), '')`, and no permissive policy with
 *   any other expression (permissive policies are OR-ed: one `USING (true)` opens the table);
 *   a primary key, and every primary key, unique constraint, unique index and exclusion
 *   constraint led by tenant_id; every foreign key pairs tenant_id with the referenced tenant_id.
 * - views: only with `security_invoker = true`, so the runtime role's RLS applies to what they read.
 * - materialized views and foreign tables: refused (they cannot carry row-level security).
 * - functions and procedures: SECURITY DEFINER ones are refused (they run as their owner, past
 *   the runtime role's RLS), as are any whose `SET` clause sets `app.tenant_id`. SECURITY INVOKER
 *   functions are allowed: they run with the caller's rights and its RLS.
 *
 * Returns the objects that fail, by name; empty when the target is safe.
 */
export async function auditTenantTarget(runner: QueryRunner, schema: string): Promise<UnsafeTenantObject[]> {
  // Objects are found through pg_depend's index on the schema, as the runner lists tables: a scan of
  // pg_class or pg_proc by namespace costs O(every object of the database), 10,000 tenant schemas' worth.
  const relations: RelationRow[] = await runner.query(
    `WITH rel AS (
       SELECT c.oid, c.relname, c.relkind, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
              (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_attnum,
              (SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_not_null
         FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_namespace'::regclass
          AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT (c.relname = ANY($2::text[])))
     SELECT r.relname AS name, r.relkind AS kind, r.reloptions AS options,
            r.relrowsecurity AS rls, r.relforcerowsecurity AS forced,
            r.tenant_attnum IS NOT NULL AS has_tenant, COALESCE(r.tenant_not_null, false) AS tenant_not_null,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'p') AS has_pkey,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'p' AND k.conkey[1] = r.tenant_attnum) AS pkey_leads,
            (SELECT array_agg(i.indexrelid::regclass::text ORDER BY 1) FROM pg_index i
              WHERE i.indrelid = r.oid AND NOT i.indisprimary AND (i.indisunique OR i.indisexclusion)
                AND i.indkey[0] IS DISTINCT FROM r.tenant_attnum) AS bad_unique,
            (SELECT array_agg(f.conname::text ORDER BY 1) FROM pg_constraint f
              WHERE f.conrelid = r.oid AND f.contype = 'f'
                AND NOT EXISTS (SELECT 1 FROM unnest(f.conkey, f.confkey) AS k(mine, theirs)
                                 JOIN pg_attribute ta ON ta.attrelid = f.confrelid AND ta.attnum = k.theirs
                                WHERE k.mine = r.tenant_attnum AND ta.attname = 'tenant_id')) AS bad_fkeys,
            (SELECT json_agg(json_build_object('name', p.polname, 'cmd', p.polcmd, 'permissive', p.polpermissive,
                                               'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid)))
               FROM pg_policy p WHERE p.polrelid = r.oid) AS policies
       FROM rel r ORDER BY r.relname`,
    [schema, AUDIT_EXEMPT_TABLES],
  );
  const unsafe: UnsafeTenantObject[] = [];
  for (const r of relations) {
    const kind = KINDS[r.kind];
    const lacks =
      r.kind === 'r' || r.kind === 'p'
        ? tableLacks(r)
        : r.kind === 'v'
          ? viewLacks(r)
          : [`a ${kind} cannot have row-level security; the runtime role may not use one`];
    if (lacks.length) unsafe.push({ kind, name: r.name, lacks });
  }
  const functions: { name: string; definer: boolean; sets_tenant: boolean }[] = await runner.query(
    `SELECT p.oid::regprocedure::text AS name, p.prosecdef AS definer,
            EXISTS (SELECT 1 FROM unnest(p.proconfig) s WHERE s ILIKE 'app.tenant_id=%') AS sets_tenant
       FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
      WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_namespace'::regclass
        AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND (p.prosecdef OR p.proconfig IS NOT NULL)
      ORDER BY 1`,
    [schema],
  );
  for (const f of functions) {
    const lacks = [
      ...(f.definer ? ['is SECURITY DEFINER: it runs as its owner and bypasses row-level security; make it SECURITY INVOKER'] : []),
      ...(f.sets_tenant ? ['sets app.tenant_id in its SET clause: it would read as another tenant'] : []),
    ];
    if (lacks.length) unsafe.push({ kind: 'function', name: f.name, lacks });
  }
  // Rules run their actions with the rights of the table's owner, past the runtime role's RLS. A
  // view's own `_RETURN` rule is the view itself (checked above).
  const rules: { name: string; relation: string }[] = await runner.query(
    `SELECT r.rulename AS name, c.relname AS relation FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
      WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND r.rulename <> '_RETURN' ORDER BY 2, 1`,
    [schema],
  );
  for (const r of rules) {
    unsafe.push({
      kind: 'rule',
      name: `${r.name} on ${r.relation}`,
      lacks: ['is a rule: its actions run with the table owner’s rights and bypass row-level security; use a SECURITY INVOKER trigger'],
    });
  }
  return unsafe;
}

/** The highest object id of each catalog the outside-schema audit reads, taken before migrations run. */
export interface CatalogHighWater {
  relations: string;
  functions: string;
  rules: string;
  schemas: string;
}

/** Each catalog's highest object id now: a backward scan of its oid index, so constant-time. */
export async function catalogHighWater(runner: QueryRunner): Promise<CatalogHighWater> {
  const [row] = await runner.query(
    `SELECT (SELECT max(oid) FROM pg_class)::text AS relations, (SELECT max(oid) FROM pg_proc)::text AS functions,
            (SELECT max(oid) FROM pg_rewrite)::text AS rules, (SELECT max(oid) FROM pg_namespace)::text AS schemas`,
  );
  return row;
}

/**
 * What a tenant target's migrations created outside the target's schema: a tenant migration may
 * only work inside its own schema, since anything outside (a SECURITY DEFINER function in `public`,
 * a rule, a table) escapes the audit above and may be reachable by the runtime role. Found as the
 * objects whose ids lie above the catalogs' high-water marks taken before the migrations ran (new
 * objects get new ids) and that this transaction wrote (their `xmin`: other targets migrated at
 * the same time create objects too), through each catalog's oid index: a scan of the whole catalog would cost
 * O(every relation of the database) per target, which with 10,000 tenant schemas made migrating
 * and provisioning ten times slower. It catches what a migration creates, not what it changes in
 * place (a `CREATE OR REPLACE` of an existing function elsewhere); after the cluster's object id
 * counter wraps around (4 billion objects), new ids may lie below the marks and go unseen.
 * TOAST tables are left out.
 */
export async function auditOutsideSchema(runner: QueryRunner, schema: string, before: CatalogHighWater): Promise<UnsafeTenantObject[]> {
  const rows: { kind: string; name: string }[] = await runner.query(
    `WITH target AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
          me AS (SELECT ((pg_current_xact_id()::text::bigint % 4294967296)::text)::xid AS x)
     SELECT 'function' AS kind, p.oid::regprocedure::text AS name FROM pg_proc p, target, me
      WHERE p.oid > $2::oid AND p.xmin = me.x AND p.pronamespace <> target.oid
     UNION ALL
     SELECT 'relation', c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, target, me
      WHERE c.oid > $3::oid AND c.xmin = me.x AND c.relnamespace <> target.oid AND n.nspname NOT LIKE 'pg\\_toast%'
     UNION ALL
     SELECT 'rule', r.rulename || ' on ' || r.ev_class::regclass::text FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class, target, me
      WHERE r.oid > $4::oid AND r.xmin = me.x AND c.relnamespace <> target.oid
     UNION ALL
     SELECT 'schema', n.nspname::text FROM pg_namespace n, me WHERE n.oid > $5::oid AND n.xmin = me.x AND n.nspname <> $1
     ORDER BY 1, 2`,
    [schema, before.functions, before.relations, before.rules, before.schemas],
  );
  return rows.map((r) => ({
    kind: r.kind,
    name: r.name,
    lacks: [`was created outside the tenant schema "${schema}": a tenant migration may only work inside it`],
  }));
}

function tableLacks(r: RelationRow): string[] {
  const lacks: string[] = [];
  if (!r.has_tenant) lacks.push('no tenant_id column');
  else if (!r.tenant_not_null) lacks.push('tenant_id is nullable: declare it NOT NULL');
  if (!r.rls) lacks.push('row-level security is not enabled (ALTER TABLE ... ENABLE ROW LEVEL SECURITY)');
  if (!r.forced) lacks.push('row-level security is not forced (ALTER TABLE ... FORCE ROW LEVEL SECURITY)');
  const permissive = (r.policies ?? []).filter((p) => p.permissive);
  const tenantPolicy = permissive.some(
    (p) => p.cmd === '*' && isTenantPredicate(p.using) && (p.check === null || isTenantPredicate(p.check)),
  );
  if (!tenantPolicy) {
    lacks.push(
      `no policy on the tenant setting: CREATE POLICY ... USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')) WITH CHECK (the same)`,
    );
  }
  for (const p of permissive) {
    if ((p.using !== null && !isTenantPredicate(p.using)) || (p.check !== null && !isTenantPredicate(p.check))) {
      lacks.push(
        `policy ${p.name} is permissive with an expression other than the tenant setting, which opens rows to other tenants (make it RESTRICTIVE or drop it)`,
      );
    }
  }
  if (!r.has_pkey) lacks.push('no primary key: declare PRIMARY KEY (tenant_id, id)');
  else if (!r.pkey_leads) lacks.push('its primary key does not lead with tenant_id');
  for (const index of r.bad_unique ?? [])
    lacks.push(`unique index or constraint ${index} does not lead with tenant_id (uniqueness must be per tenant)`);
  for (const fk of r.bad_fkeys ?? []) lacks.push(`foreign key ${fk} does not pair tenant_id with the referenced tenant_id`);
  return lacks;
}

function viewLacks(r: RelationRow): string[] {
  return (r.options ?? []).some((o) => TRUE_OPTION.test(o))
    ? []
    : ["a view runs with its owner's rights and bypasses row-level security: create it WITH (security_invoker = true)"];
}
