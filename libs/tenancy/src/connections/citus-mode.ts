import { Inject, Injectable } from '@nestjs/common';
import type { QueryRunner } from 'typeorm';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { OwnerConnections } from './owner-connections';

/**
 * Whether the kit runs in Citus mode (option `citus`): decided once per process, from the option
 * or, for `'auto'`, from `pg_extension` of the control database (the Citus coordinator). Start-up
 * (`detect`) decides it before anything else reads `enabled`.
 */
@Injectable()
export class CitusMode {
  private decided?: Promise<boolean>;
  private known?: boolean;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
  ) {
    if (options.citus !== 'auto') this.known = options.citus;
  }

  /**
   * Decides the mode (once; later calls give the same answer).
   * @throws TenancyConfigError when `citus: true` and the extension is missing, or when Citus mode
   * is on with `tenantPredicate: false`.
   */
  detect(): Promise<boolean> {
    this.decided ??= this.decide().then(
      (on) => (this.known = on),
      (err: unknown) => {
        this.decided = undefined;
        throw err;
      },
    );
    return this.decided;
  }

  /**
   * Citus mode is on. Read on the request path, once `detect` has run at start; before that (or
   * with `citus: 'auto'` never detected, as in a bare test module) it reads false.
   */
  get enabled(): boolean {
    return this.known ?? false;
  }

  /**
   * The runner's connection is on the control database (the Citus coordinator, home of the shared
   * and schema models) and it runs Citus: not a tenant database of the database model.
   */
  async isCoordinator(runner: QueryRunner): Promise<boolean> {
    const [row] = await runner.query(
      `SELECT current_database() = $1 AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS coordinator`,
      [this.owner.homeDatabase()],
    );
    return row.coordinator === true;
  }

  private async decide(): Promise<boolean> {
    if (this.options.citus === false) return false;
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed`);
    const on = this.options.citus === true || row.installed === true;
    if (on && !row.installed) {
      throw new TenancyConfigError('the TenancyModule options', [
        `citus: true, but the citus extension is not installed in the control database "${this.owner.homeDatabase()}": run CREATE EXTENSION citus on the coordinator, or set citus: 'auto'`,
      ]);
    }
    if (on && !this.options.tenantPredicate) {
      throw new TenancyConfigError('the TenancyModule options', [
        'tenantPredicate: false, but the control database runs Citus: Citus needs the tenant_id predicate to route queries to one shard; leave tenantPredicate on, or set citus: false',
      ]);
    }
    return on;
  }
}
