import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../connections/owner-connections';
import { CitusMode } from '../connections/citus-mode';
import { DeploymentOwnershipError, TenancyConfigError } from '../errors/tenancy.errors';
import { pgErrorCode } from '../errors/pg-error-code';
import { TenantNaming } from './tenant-naming';
import { quoteIdent, quoteLiteral } from '../core/sql';

/** The settings row that says an upgrade from unkeyed names is still to be done. */
export const UPGRADE_PENDING_KEY = 'upgrade:deployment-key';

/**
 * The layout of what the kit itself keeps in every tenant location (its ledger, the move fence and
 * its function, the runtime role's grants). A deployment whose stored layout is older has every
 * location migrated again at start, even those the migration ledger records as current.
 * 1: the move fence (`tenancy_fence`, `tenancy_fenced()`) and the audited grants.
 */
export const KIT_LAYOUT = 1;
const LAYOUT_KEY = 'kit_layout';
const MARK_PREFIX = 'nest-tenancy deployment ';
/** What the mark queries give for an object another role owns: its comment does not count then. */
const OWNED_BY = '\u0001owned by ';

/**
 * The mark of a database or schema, as SQL over `pg_database` / `pg_namespace`: its comment only
 * when the owner connection's role owns it. A comment is readable (and so copyable) by every role;
 * ownership is not forgeable by a role without the owner's rights.
 */
const DATABASE_MARK = `CASE WHEN datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN shobj_description(oid, 'pg_database') ELSE chr(1) || 'owned by ' || pg_get_userbyid(datdba) END`;
export const SCHEMA_MARK = `CASE WHEN nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN obj_description(oid, 'pg_namespace') ELSE chr(1) || 'owned by ' || pg_get_userbyid(nspowner) END`;

export type Ownership = 'absent' | 'ours';

/**
 * Who this deployment is, and what it owns. A deployment is one control database: its id (a UUID
 * generated at its first start, kept in the control database) goes into an ownership mark, a
 * comment (`COMMENT ON DATABASE | SCHEMA | ROLE`) on everything it creates on a server. Before it
 * creates, migrates, moves into or drops a database or schema, or changes its runtime role, it
 * checks the mark: what exists without this deployment's mark is never adopted, changed or
 * dropped (`DeploymentOwnershipError`). Comments on databases and roles are cluster-wide
 * (pg_shdescription), so every deployment on a server sees every other's marks.
 */
@Injectable()
export class Deployment {
  private deploymentId?: string;
  private upgradePending = false;
  private layout = KIT_LAYOUT;
  private legacyRoles = new Set<string>();

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly citus: CitusMode,
  ) {}

  get key(): string {
    return this.options.deploymentKey;
  }

  get id(): string {
    if (!this.deploymentId) throw new Error('The deployment is not initialized yet: the tenancy module has not finished starting.');
    return this.deploymentId;
  }

  /** The comment that marks a database, schema or role as this deployment's. */
  get mark(): string {
    return `${MARK_PREFIX}${this.id} (key ${this.key})`;
  }

  /** True while a deployment started by a version without deployment keys still has to be upgraded. */
  get needsUpgrade(): boolean {
    return this.upgradePending;
  }

  /**
   * Reads (or, at the first start, records) the deployment's id and key. A control database that
   * holds tenants or a runtime role's password but no id was made by a version without deployment
   * keys: it is recorded as needing the upgrade (see `DeploymentUpgrade`).
   * @throws TenancyConfigError when the key differs from the one the deployment was started with.
   */
  async init(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const settings = `${quoteIdent(this.naming.controlSchema)}.settings`;
    await ds.transaction(async (m) => {
      await m.query(`LOCK TABLE ${settings} IN SHARE ROW EXCLUSIVE MODE`);
      const rows: { key: string; value: string }[] = await m.query(`SELECT key, value FROM ${settings}`);
      const get = (key: string) => rows.find((r) => r.key === key)?.value;
      let id = get('deployment_id');
      if (!id) {
        id = randomUUID();
        const [tenants] = await m.query(`SELECT EXISTS (SELECT 1 FROM ${quoteIdent(this.naming.controlSchema)}.tenants) AS any`);
        const legacy = tenants.any || rows.some((r) => r.key.startsWith('runtime_password:'));
        await m.query(
          `INSERT INTO ${settings} (key, value) VALUES ('deployment_id', $1), ('deployment_key', $2), ($3, $4) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
          [id, this.key, LAYOUT_KEY, String(legacy ? 0 : KIT_LAYOUT)],
        );
        this.layout = legacy ? 0 : KIT_LAYOUT;
        if (legacy) await m.query(`INSERT INTO ${settings} (key, value) VALUES ($1, 'pending')`, [UPGRADE_PENDING_KEY]);
        this.upgradePending = legacy;
      } else {
        const stored = get('deployment_key');
        if (stored && stored !== this.key) {
          throw new TenancyConfigError('tenancy options', [
            `deploymentKey: this control database belongs to the deployment with key "${stored}", and its tenant databases and runtime role are named with it; set deploymentKey to "${stored}" (or start a new deployment on another control database)`,
          ]);
        }
        this.upgradePending = get(UPGRADE_PENDING_KEY) === 'pending';
        this.layout = Number(get(LAYOUT_KEY) ?? 0);
      }
      this.legacyRoles = new Set(
        rows.filter((r) => r.key.startsWith('runtime_password:')).map((r) => r.key.slice('runtime_password:'.length)),
      );
      this.deploymentId = id;
    });
  }

  /** True while the locations were laid out by an older version of the kit (see KIT_LAYOUT). */
  get layoutOutdated(): boolean {
    return this.layout < KIT_LAYOUT;
  }

  /** Records that every location has the current layout. */
  async layoutDone(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${quoteIdent(this.naming.controlSchema)}.settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2`,
      [LAYOUT_KEY, String(KIT_LAYOUT)],
    );
    this.layout = KIT_LAYOUT;
  }

  /** Records that the upgrade to deployment keys is done. */
  async upgradeDone(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${quoteIdent(this.naming.controlSchema)}.settings WHERE key = $1`, [UPGRADE_PENDING_KEY]);
    this.upgradePending = false;
  }

  /**
   * May an unmarked role of this name be claimed? Only during the upgrade of a deployment whose
   * control database kept that role's password: a version without marks created it for this
   * deployment.
   */
  mayClaimLegacyRole(role: string): boolean {
    return this.upgradePending && this.legacyRoles.has(role);
  }

  /** The runtime roles a version without deployment keys used for this deployment. */
  get previousRoles(): string[] {
    return [...this.legacyRoles];
  }

  /** Whose a database, schema or role is, by its mark, as the end of a sentence. */
  describe(mark: string | null): string {
    if (!mark) return 'has no nest-tenancy mark (no nest-tenancy deployment created it)';
    if (mark.startsWith(OWNED_BY))
      return `is owned by the role "${mark.slice(OWNED_BY.length)}", not by this deployment's owner, whatever its comment says`;
    if (mark.startsWith(MARK_PREFIX)) return `belongs to the nest-tenancy deployment ${mark.slice(MARK_PREFIX.length)}`;
    return `carries the comment "${mark.slice(0, 80)}" instead of this deployment's mark`;
  }

  /**
   * The mark of a database of `server` (`undefined`: no such database; `null`: no comment; an
   * "owned by" marker when another role owns it, whatever its comment).
   */
  async databaseMark(maintenance: DataSource, database: string): Promise<string | null | undefined> {
    const [row] = await maintenance.query(`SELECT ${DATABASE_MARK} AS mark FROM pg_database WHERE datname = $1`, [database]);
    return row ? row.mark : undefined;
  }

  /**
   * Whether a tenant database of this deployment exists on `server`.
   * @throws DeploymentOwnershipError when a database of that name exists without this deployment's mark.
   */
  async checkDatabase(server: string, database: string): Promise<Ownership> {
    return this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
      const mark = await this.databaseMark(ds, database);
      if (mark === undefined) return 'absent';
      if (mark === this.mark) return 'ours';
      throw this.foreign('database', database, server, mark);
    });
  }

  /**
   * Creates `database` on the server `maintenance` is connected to, with this deployment's mark, or
   * checks the mark of the one that exists. CREATE DATABASE cannot share a transaction with its
   * COMMENT: an intent row in the control database, written before and removed after, lets this
   * deployment finish a database a crash left unmarked, and only that one. The caller holds the
   * provisioning lock of the database.
   * @throws DeploymentOwnershipError when the database exists without this deployment's mark.
   */
  async claimDatabase(maintenance: DataSource, server: string, database: string): Promise<void> {
    const mark = await this.databaseMark(maintenance, database);
    if (mark === this.mark) return;
    const control = await this.owner.controlDataSource();
    const settings = `${quoteIdent(this.naming.controlSchema)}.settings`;
    const intent = `creating-database:${server}:${database}`;
    if (mark === undefined) {
      await control.query(`INSERT INTO ${settings} (key, value) VALUES ($1, now()::text) ON CONFLICT (key) DO NOTHING`, [intent]);
      await maintenance.query(`CREATE DATABASE ${quoteIdent(database)}`);
    } else if (mark !== null || !(await control.query(`SELECT 1 FROM ${settings} WHERE key = $1`, [intent])).length) {
      throw this.foreign('database', database, server, mark);
    }
    await this.markDatabase(maintenance, database);
    await control.query(`DELETE FROM ${settings} WHERE key = $1`, [intent]);
  }

  /** Marks a database as this deployment's (one it created, or one it renamed in the upgrade). */
  async markDatabase(maintenance: DataSource, database: string): Promise<void> {
    await maintenance.query(`COMMENT ON DATABASE ${quoteIdent(database)} IS ${quoteLiteral(this.mark)}`);
  }

  /**
   * Creates `schema` in the control database with this deployment's mark, in one transaction, or
   * checks the mark of the one that exists.
   * @throws DeploymentOwnershipError when the schema exists without this deployment's mark.
   */
  async claimSchema(schema: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    for (let attempt = 0; ; attempt++) {
      try {
        await ds.transaction(async (m) => {
          const [row] = await m.query(`SELECT ${SCHEMA_MARK} AS mark FROM pg_namespace WHERE nspname = $1`, [schema]);
          if (row && row.mark === this.mark) return;
          if (row) throw this.foreign('schema', schema, 'default', row.mark);
          // Citus: never registered as a tenant schema on creation; the migration runner distributes
          // a tenant's schema once migrated, and leaves the shared schema a regular one.
          if (await this.citus.detect()) await m.query(`SET LOCAL citus.enable_schema_based_sharding TO off`);
          await m.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
          await m.query(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${quoteLiteral(this.mark)}`);
        });
        return;
      } catch (err) {
        // 42P06 / 23505: another instance created it at the same moment; look at its mark again.
        if (attempt === 0 && (pgErrorCode(err) === '42P06' || pgErrorCode(err) === '23505')) continue;
        throw err;
      }
    }
  }

  /**
   * Whether a schema of this deployment exists in the control database.
   * @throws DeploymentOwnershipError when it exists without this deployment's mark.
   */
  async checkSchema(schema: string): Promise<Ownership> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT ${SCHEMA_MARK} AS mark FROM pg_namespace WHERE nspname = $1`, [schema]);
    if (!row) return 'absent';
    if (row.mark === this.mark) return 'ours';
    throw this.foreign('schema', schema, 'default', row.mark);
  }

  /** Marks an existing schema as this deployment's (the upgrade from unkeyed names). */
  async markSchema(schema: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${quoteLiteral(this.mark)}`);
  }

  /**
   * Marks `schema` as this deployment's when it exists with no comment at all (made by a version
   * without deployment keys); a marked or missing schema is left alone. The upgrade from unkeyed names.
   */
  async adoptUnmarkedSchema(schema: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT ${SCHEMA_MARK} AS mark FROM pg_namespace WHERE nspname = $1`, [schema]);
    if (row && row.mark === null) await this.markSchema(schema);
  }

  foreign(kind: 'database' | 'schema' | 'role', name: string, server: string, mark: string | null): DeploymentOwnershipError {
    const where = kind === 'schema' ? `in database "${this.owner.homeDatabase()}"` : `on server "${server}"`;
    const fix =
      kind === 'role'
        ? 'choose another runtimeRole for this deployment'
        : 'this deployment never adopts, migrates or drops it: remove or rename it, or give this deployment another deploymentKey';
    return new DeploymentOwnershipError(`The ${kind} "${name}" ${where} exists but ${this.describe(mark)}; ${fix}.`);
  }
}
