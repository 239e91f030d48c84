import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CitusMode } from '../connections/citus-mode';
import { pgErrorCode } from '../errors/pg-error-code';
import { randomBytes } from 'node:crypto';
import { ControlLocks } from './control-locks';
import { Deployment } from './deployment';
import { TenantNaming } from './tenant-naming';
import { quoteIdent, quoteLiteral } from '../core/sql';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { DeploymentOwnershipError } from '../errors/tenancy.errors';
import { OwnerConnections } from '../connections/owner-connections';

export interface RoleCredentials {
  user: string;
  password: string;
}

/**
 * The runtime role: DML only, not superuser, not the owner of any table, NOBYPASSRLS. Requests run
 * as this role. The service creates it (or corrects its attributes) from the owner connection on
 * every server it uses; its password is generated once and kept in the control database, readable
 * by the owner only, so every instance of the service signs in with the same one. The role is one
 * deployment's own: named with its key and marked with its id, so a second deployment on the same
 * server never changes its password or attributes (a role of that name without this deployment's
 * mark is refused with DeploymentOwnershipError), and the runtime sessions of two deployments
 * cannot see each other's queries in pg_stat_activity or end each other's backends.
 *
 * Citus mode: on the coordinator (server `default`) the role also gets its `pg_dist_authinfo` row
 * (all nodes, `nodeid` 0: `password=<its password>`), which Citus reads when it connects to a worker
 * as the role; without it a worker that asks for a password refuses every routed query. See Citus's
 * "Connection Credentials Table".
 */
@Injectable()
export class RuntimeRole {
  private readonly logger = new Logger('Tenancy');
  private credentials?: Promise<RoleCredentials>;
  private readonly ensured = new Map<string, Promise<void>>();

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly deployment: Deployment,
    private readonly locks: ControlLocks,
    private readonly citus: CitusMode,
  ) {}

  get name(): string {
    return this.options.runtimeRole;
  }

  getCredentials(): Promise<RoleCredentials> {
    this.credentials ??= this.loadCredentials().catch((err) => {
      this.credentials = undefined;
      throw err;
    });
    return this.credentials;
  }

  /** Makes sure the role exists on `server` with the right attributes and password. */
  ensureOn(server: string): Promise<void> {
    let pending = this.ensured.get(server);
    if (!pending) {
      pending = this.create(server).catch((err) => {
        this.ensured.delete(server);
        throw err;
      });
      this.ensured.set(server, pending);
    }
    return pending;
  }

  private async loadCredentials(): Promise<RoleCredentials> {
    const ds = await this.owner.controlDataSource();
    const table = `${quoteIdent(this.naming.controlSchema)}.settings`;
    const key = `runtime_password:${this.name}`;
    await ds.query(`INSERT INTO ${table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [
      key,
      randomBytes(24).toString('hex'),
    ]);
    const [row] = await ds.query(`SELECT value FROM ${table} WHERE key = $1`, [key]);
    return { user: this.name, password: row.value };
  }

  /**
   * The role's row of `pg_dist_authinfo` for every node (replaced, never duplicated). Writing it
   * takes a superuser on most clusters: without the right, a warning says what to run instead.
   */
  private async storeWorkerCredentials(ds: DataSource, user: string, password: string): Promise<void> {
    // libpq's keyword=value syntax: a value in single quotes, with \ and ' escaped by a backslash.
    const authinfo = `password='${password.replace(/[\\']/g, (c) => `\\${c}`)}'`;
    try {
      await ds.transaction(async (m) => {
        await m.query(`DELETE FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1`, [user]);
        await m.query(`INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2)`, [user, authinfo]);
      });
    } catch (err) {
      if (pgErrorCode(err) !== '42501') throw err;
      this.logger.warn(
        `Citus: the owner may not write pg_dist_authinfo, so the workers may refuse the runtime role "${user}" (fe_sendauth: no password supplied); ` +
          `as a superuser on the coordinator, insert its row (nodeid 0, rolename '${user}', authinfo 'password=<its password from the control schema's settings>'), or let the workers trust the coordinator`,
      );
    }
  }

  private async create(server: string): Promise<void> {
    const { user, password } = await this.getCredentials();
    const role = quoteIdent(user);
    const attributes = `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${quoteLiteral(password)}`;
    // One creator at a time per server (CREATE ROLE has no IF NOT EXISTS), across instances.
    await this.locks.withLock(`runtime-role:${server}`, () =>
      this.owner.withDatabase(server, this.owner.homeDatabase(server), async (ds) => {
        // A role's comment is readable by every role, so a copied mark proves little: the role must
        // also have no members (who could SET ROLE to it) and belong to no role (whose rights it
        // would inherit, such as pg_read_all_data).
        const [existing] = await ds.query(
          `SELECT shobj_description(r.oid, 'pg_authid') AS mark,
                  (SELECT string_agg(pg_get_userbyid(m.member), ', ') FROM pg_auth_members m WHERE m.roleid = r.oid) AS members,
                  (SELECT string_agg(pg_get_userbyid(m.roleid), ', ') FROM pg_auth_members m WHERE m.member = r.oid) AS memberships
             FROM pg_roles r WHERE r.rolname = $1`,
          [user],
        );
        if (!existing) {
          await ds.query(`CREATE ROLE ${role} ${attributes}`);
        } else if (existing.mark === this.deployment.mark || (existing.mark === null && this.deployment.mayClaimLegacyRole(user))) {
          if (existing.members || existing.memberships) {
            throw new DeploymentOwnershipError(
              `The runtime role "${user}" on server "${server}" ${existing.members ? `has members (${existing.members})` : `is a member of ${existing.memberships}`}: ` +
                'a runtime role must stand alone, or other roles could act as it or lend it their rights; remove the memberships or choose another runtimeRole.',
            );
          }
          await ds.query(`ALTER ROLE ${role} ${attributes}`);
        } else {
          throw this.deployment.foreign('role', user, server, existing.mark);
        }
        await ds.query(`COMMENT ON ROLE ${role} IS ${quoteLiteral(this.deployment.mark)}`);
        if (server === 'default' && (await this.citus.detect())) await this.storeWorkerCredentials(ds, user, password);
      }),
    );
  }
}
