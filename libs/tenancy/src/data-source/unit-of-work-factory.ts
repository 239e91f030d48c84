import { Inject, Injectable } from '@nestjs/common';
import { SAFE_METHODS, TenantAccess } from '../catalog/tenant-access';
import { TenantCatalog } from '../catalog/tenant-catalog';
import type { TenantRecord } from '../core/tenant-record';
import { limitsFor, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantMovingError } from '../errors/tenancy.errors';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { citusPreamble } from '../strategies/transaction-preamble';
import { CitusMode } from '../connections/citus-mode';
import { TenantAdmission } from './tenant-admission';
import { UnitOfWork } from './unit-of-work';

/** Opens a unit of work on the pool that serves the tenant's model. */
@Injectable()
export class UnitOfWorkFactory {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly strategies: IsolationStrategies,
    private readonly access: TenantAccess,
    private readonly catalog: TenantCatalog,
    private readonly admission: TenantAdmission,
    private readonly citus: CitusMode,
  ) {}

  /**
   * `method`: the request's HTTP method (anything but GET, HEAD and OPTIONS may write). The tenant is
   * checked again against the catalog when the transaction begins, which can be long after the
   * request was resolved: a tenant suspended, deleted or frozen for a move in between is refused
   * then, and one that has moved meanwhile is refused with a 503 to retry against its new place.
   * A transaction that begins is thus always one a move's freeze waits for. A transaction that
   * finds the tenant fenced where this instance sends it has the catalog row re-read at once; one
   * that cannot reach the tenant's place re-reads it before answering.
   *
   * The unit holds nothing until its `start()` (concurrency slot, DataSource lease) and takes a
   * connection only at its first query.
   * @throws TenantBusyError or TenantRateLimitedError (429) when the tenant is past its tier's `concurrency` or `rate`.
   */
  async open(tenant: TenantRecord, method = 'POST'): Promise<UnitOfWork> {
    // A tenant past its tier's concurrency or rate is refused before anything else (429).
    this.admission.check(tenant);
    const strategy = this.strategies.for(tenant.strategy);
    const source = { enter: () => this.admission.enter(tenant), lease: () => strategy.acquire(tenant) };
    const recheck = () => {
      const now = this.access.servable(tenant.id, 'the catalog', method);
      if (now.strategy !== tenant.strategy || now.server !== tenant.server) throw new TenantMovingError(tenant.id);
    };
    // The place could not be reached (a move may have dropped it before this instance heard of the
    // switch): re-read the tenant's row; if it has moved (or was deleted), that is the answer (503).
    // Bounded: a server that does not answer (frozen) must cost the caller a 503, not a hang.
    const beginFailed = async () => {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((ok) => (timer = setTimeout(ok, this.options.timeouts.acquireMillis)));
      await Promise.race([this.catalog.refresh(tenant.id).catch(() => undefined), waited]);
      clearTimeout(timer);
      recheck();
    };
    // The tier's time limits travel in the settings' one SELECT, sent with BEGIN and the first query.
    const select = strategy.preamble(tenant, limitsFor(this.options, tenant.tier));
    // Citus mode (shared and schema models, in the coordinator's database): SET LOCALs the workers see first.
    const settings = this.citus.enabled && tenant.strategy !== 'database' ? [...citusPreamble(tenant.id), select] : select;
    const unit = new UnitOfWork(
      tenant,
      source,
      settings,
      recheck,
      () => this.catalog.refreshSoon(tenant.id),
      beginFailed,
      this.options.tenantPredicate,
    );
    unit.mayWrite = !SAFE_METHODS.has(method.toUpperCase());
    return unit;
  }
}
