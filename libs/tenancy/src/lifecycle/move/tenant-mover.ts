import { Inject, Injectable, Logger } from '@nestjs/common';
import { ControlLocks } from '../../catalog/control-locks';
import { type MoveEnd, MoveJournal, type MoveProgress, type MoveState } from '../../catalog/move-journal';
import { TenantCatalog } from '../../catalog/tenant-catalog';
import { TenantLifecycleHooks } from '../../catalog/tenant-lifecycle-hooks';
import { type IsolationModel, type ResolvedTenancyOptions, TENANCY_OPTIONS } from '../../config/tenancy-options';
import { OwnerConnections } from '../../connections/owner-connections';
import { CitusMode } from '../../connections/citus-mode';
import { RuntimeRole } from '../../catalog/runtime-role';
import { TenantStateError } from '../../errors/tenancy.errors';
import { MigrationLedger } from '../../migrations/migration-ledger';
import { IsolationStrategies } from '../../strategies/isolation-strategies';
import { moveLockKey } from '../move-lock';
import { TenantLifecycle } from '../tenant-lifecycle';
import { TenantMigrations } from '../tenant-migrations';
import { waitForOpenTransactions } from './freeze-barrier';
import { alreadyThere, isUnfinished, notActive, tierOfMove } from './move-checks';
import { MoveRecovery } from './move-recovery';
import { beginSide, openSide } from './move-side';
import { bulkCopy, catchUpAndVerify, tablesToSync } from './table-sync';
import { errorMessage } from '../../core/error-message';

export type { MovePhase, MoveState } from '../../catalog/move-journal';
export { MoveVerificationError } from './table-sync';

export interface MoveReport {
  tenantId: string;
  from: MoveEnd;
  to: MoveEnd;
  /** Rows per table at the target: bulk-copied plus caught up. */
  rows: Record<string, number>;
  /** How long writes were refused (status `moving`): the final catch-up and the switch. */
  freezeMillis: number;
  totalMillis: number;
  /** The tenant's tier afterwards (set by `MoveTo.tier`, else the one it had). */
  tier: string | null;
}

/**
 * Where a move goes: a model, and a server for a model that takes one (default `default`).
 * `tier`: a tier of that model the tenant takes with the switch (default: it keeps its tier). A
 * tenant already in place only changes its tier.
 */
export type MoveTo = { strategy: IsolationModel; server?: string; tier?: string };

/**
 * Moves one tenant's rows between any two models (or servers), keeping ids: provision the target;
 * copy table by table in key order with COPY while the tenant is served (table-sync.ts); freeze
 * writes by fencing the tenant at the source (enforced by the database: its transactions there turn
 * read-only, so writes get 503 with Retry-After and reads go on, in every instance) and marking it
 * `moving`, then wait for the transactions open at the fence; catch up the rows changed since the
 * copy and verify every table; switch the catalog and the journal in one transaction; then remove
 * the source rows (the source stays fenced: an instance that has not heard of the switch cannot
 * write there). The move lock (ControlLocks) keeps two moves (or a move and a delete) apart and
 * tells the other instances whether the mover is alive (MoveRecovery). Running a move again starts
 * it over, or only finishes the clean-up if the switch had happened.
 */
@Injectable()
export class TenantMover {
  private readonly logger = new Logger('TenantMover');
  /** A pause after the fence, before the barrier, in ms. Not needed for correctness; 0 by default. Tests hold a move in its freeze with it. */
  freezeGraceMillis = 0;
  /** How long to wait (ms) for the transactions open at the fence's commit before abandoning the move. Default 5,000. */
  freezeBarrierMillis = 5_000;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly owner: OwnerConnections,
    private readonly lifecycle: TenantLifecycle,
    private readonly journal: MoveJournal,
    private readonly ledger: MigrationLedger,
    private readonly migrations: TenantMigrations,
    private readonly role: RuntimeRole,
    private readonly locks: ControlLocks,
    private readonly recovery: MoveRecovery,
    private readonly hooks: TenantLifecycleHooks,
    private readonly citus: CitusMode,
  ) {}

  /** The tenant's recorded move (undefined when none is under way or left unfinished). */
  state(tenantId: string): Promise<MoveState | undefined> {
    return this.journal.state(tenantId);
  }

  /** See MoveRecovery.recoverAbandoned. */
  recoverAbandoned(): Promise<string[]> {
    return this.recovery.recoverAbandoned();
  }

  /**
   * Refuses at once a move that cannot start (unknown server, unknown tenant, a tenant that is not
   * active or already there), so a caller that runs the move in the background (the admin API)
   * can answer with the error instead of a 202 for a move that fails a moment later.
   * @throws InvalidTenantDefinitionError, UnknownTenantError, TenantStateError
   */
  async check(tenantId: string, to: MoveTo): Promise<void> {
    const target = this.strategies.placeOf(to);
    const tier = tierOfMove(this.options, to);
    const tenant = this.lifecycle.require(tenantId);
    if (isUnfinished(await this.journal.state(tenantId))) return;
    if (tenant.strategy === target.strategy && tenant.server === target.server) {
      if (tier !== undefined && tier !== tenant.tier) return;
      throw alreadyThere(this.strategies, tenantId, target);
    }
    if (tenant.status !== 'active') throw notActive(tenantId, tenant.status);
  }

  /**
   * Moves the tenant to `to`; `onPhase` hears each phase (and the table being copied).
   * @throws as `check`; TenantStateError when a move of the tenant is running, or the freeze could
   * not be reached; MoveVerificationError when the sides differ after the catch-up (the tenant
   * stays where it was).
   */
  async move(tenantId: string, to: MoveTo, onPhase?: (phase: string, detail?: string) => void): Promise<MoveReport> {
    const started = Date.now();
    const target = this.strategies.placeOf(to);
    const tier = tierOfMove(this.options, to);
    const busy = () => {
      throw new TenantStateError(`A move of tenant '${tenantId}' is already running.`);
    };
    return this.locks.withLock(
      moveLockKey(tenantId),
      async () => {
        let tenant = this.lifecycle.require(tenantId);
        const previous = await this.journal.state(tenantId);
        if (isUnfinished(previous)) {
          // A move switched the catalog but did not finish: remove what is left at its source first.
          onPhase?.('cleanup', 'finishing an interrupted move');
          await this.cleanup(tenantId, { strategy: previous.sourceStrategy, server: previous.sourceServer });
          tenant = this.lifecycle.require(tenantId);
        }
        if (tenant.strategy === target.strategy && tenant.server === target.server) {
          const retier = tier !== undefined && tier !== tenant.tier;
          if (!isUnfinished(previous) && !retier) throw alreadyThere(this.strategies, tenantId, target);
          if (retier) tenant = (await this.catalog.update(tenantId, { tier }))!;
          const from = isUnfinished(previous) ? { strategy: previous.sourceStrategy, server: previous.sourceServer } : target;
          return { tenantId, from, to: target, rows: {}, freezeMillis: 0, totalMillis: Date.now() - started, tier: tenant.tier };
        }
        if (tenant.status !== 'active') throw notActive(tenantId, tenant.status);
        const source = { strategy: tenant.strategy, server: tenant.server };
        await this.journal.start(tenantId, source, target, 'provisioning');
        onPhase?.('provisioning', this.strategies.describe(target));
        const into = this.strategies.for(target.strategy);
        await into.drop({ id: tenantId, server: target.server });
        await into.provision({ id: tenantId, server: target.server });
        // Moving into a place lifts a fence left there by an earlier move out of it.
        await into.unfence({ id: tenantId, server: target.server });
        const { rows, freezeMillis } = await this.copyAndSwitch(tenantId, source, target, tier, onPhase);
        // Served from its new place: what is kept of it elsewhere (the tenant cache) goes. The move is
        // done whatever a listener says (its cached values are the rows it still has): only logged.
        await this.hooks
          .emit({ tenantId, kind: 'moved' })
          .catch((err) => this.logger.error(`tenant ${tenantId} moved: ${errorMessage(err)}`));
        onPhase?.('cleanup');
        await this.cleanup(tenantId, source);
        const after = this.catalog.get(tenantId)?.tier ?? tier ?? tenant.tier;
        return { tenantId, from: source, to: target, rows, freezeMillis, totalMillis: Date.now() - started, tier: after };
      },
      busy,
    );
  }

  /** Copy, freeze, catch up and verify, switch. Before the switch a failure unfreezes the tenant at its source. */
  private async copyAndSwitch(
    tenantId: string,
    source: MoveEnd,
    target: MoveEnd,
    tier: string | undefined,
    onPhase?: (phase: string, detail?: string) => void,
  ) {
    const from = this.strategies.for(source.strategy);
    // Citus mode: both ends in the coordinator's database (shared, schema) send their settings with SET LOCAL.
    const citus = (strategy: string) => this.citus.enabled && strategy !== 'database';
    const src = await openSide(this.owner, from.location({ id: tenantId, server: source.server }), citus(source.strategy));
    const dst = await openSide(
      this.owner,
      this.strategies.for(target.strategy).location({ id: tenantId, server: target.server }),
      citus(target.strategy),
    );
    let frozen = false;
    let switched = false;
    try {
      const tables = await tablesToSync(src, dst);
      await this.journal.setPhase(tenantId, 'copying');
      const progress: MoveProgress & Required<Pick<MoveProgress, 'tables'>> = { tables: {} };
      await bulkCopy(src, dst, tables, tenantId, {
        starting: (table) => onPhase?.('copying', table),
        copied: async (table, copied) => {
          progress.tables[table] = { copied };
          await this.journal.setPhase(tenantId, 'copying', progress);
        },
      });

      // Freeze. The fence at the source is what holds: from its commit on, every transaction of the
      // tenant there is read-only, in every instance, whether or not it has heard of the move
      // (LISTEN does not get through a transaction pooler). The status `moving` is the fast path for
      // the instances that hear it. Then the barrier: wait for the transactions open at the fence's
      // commit. No table lock: the shared tables serve other tenants too.
      onPhase?.('freezing');
      frozen = true;
      const freezeStarted = Date.now();
      await from.fence({ id: tenantId, server: source.server });
      await this.catalog.setStatus(tenantId, 'moving');
      await this.journal.setPhase(tenantId, 'freezing', progress);
      if (this.freezeGraceMillis > 0) await new Promise((r) => setTimeout(r, this.freezeGraceMillis));
      await waitForOpenTransactions(src, this.role.name, this.freezeBarrierMillis);
      await beginSide(src, 'READ COMMITTED', tenantId);
      await beginSide(dst, 'READ COMMITTED', tenantId);
      for (const [table, done] of Object.entries(await catchUpAndVerify(src, dst, tables, tenantId)))
        Object.assign(progress.tables[table], done);
      await dst.client.query('COMMIT');

      // Switch: one transaction on the control database; every instance hears it through NOTIFY.
      onPhase?.('switching');
      await this.catalog.switchPlace(tenantId, { ...target, tier }, (m) =>
        this.journal.setPhase(tenantId, 'switched', progress, undefined, m),
      );
      // From here the source must stay fenced whatever fails: the tenant is served from the target.
      switched = true;
      frozen = false;
      if (this.strategies.hasOwnLedgerEntry({ id: tenantId, ...target }))
        await this.ledger.recordCurrent(tenantId, target.server, this.migrations.latest);
      // The source stays fenced: an instance that has not heard of the switch yet gets 503 there
      // (and re-reads the tenant's row) instead of writing where the tenant is never read again.
      await src.client.query('COMMIT');
      progress.freezeMillis = Date.now() - freezeStarted;
      await this.journal.setPhase(tenantId, 'switched', progress);
      const rows = Object.fromEntries(Object.entries(progress.tables).map(([k, v]) => [k, v.copied + (v.caughtUp ?? 0)]));
      return { rows, freezeMillis: progress.freezeMillis };
    } catch (err) {
      await src.client.query('ROLLBACK').catch(() => undefined);
      await dst.client.query('ROLLBACK').catch(() => undefined);
      // Past the switch the tenant is served from the target: only the clean-up is left to redo.
      if (!switched) {
        if (frozen) {
          await from
            .unfence({ id: tenantId, server: source.server })
            .catch((e) =>
              this.logger.error(
                `tenant ${tenantId} stays fenced at its source after a failed move (${errorMessage(e)}); run the move again`,
              ),
            );
          await this.catalog.setStatus(tenantId, 'active').catch(() => undefined);
        }
        await this.journal.setPhase(tenantId, 'failed', undefined, errorMessage(err)).catch(() => undefined);
      }
      throw err;
    } finally {
      await src.close().catch(() => undefined);
      await dst.close().catch(() => undefined);
    }
  }

  /** Removes the tenant's rows at the move's source (its fence stays there) and ends the journal's row. */
  private async cleanup(tenantId: string, source: MoveEnd): Promise<void> {
    await this.journal.setPhase(tenantId, 'cleanup');
    await this.strategies.for(source.strategy).drop({ id: tenantId, server: source.server }, { keepFence: true });
    const now = this.catalog.get(tenantId);
    if (now && this.strategies.hasOwnLedgerEntry({ id: tenantId, ...source }) && !this.strategies.hasOwnLedgerEntry(now))
      await this.ledger.forget(tenantId);
    await this.journal.finish(tenantId);
  }
}
