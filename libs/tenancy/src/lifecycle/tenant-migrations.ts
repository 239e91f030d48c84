import { Inject, Injectable } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import type { TenantLocation } from '../core/tenant-location';
import { MigrationLedger } from '../migrations/migration-ledger';
import { TenantMigrator } from '../migrations/tenant-migrator';
import { errorMessage } from '../core/error-message';

export interface MigrationTarget {
  /** Its ledger entry: a common place's (`@shared`) or a tenant id. */
  target: string;
  model: string;
  location: TenantLocation;
  /** The tenant the location belongs to alone (its tables get the tenant_pin CHECK); none for a common place. */
  pin?: string;
}

export interface MigrationOutcome {
  target: string;
  model: string;
  /**
   * `applied`: the run migrated the target (`applied` lists what it applied; empty when the target
   * turned out current). `skipped`: the ledger says current, no connection was opened.
   */
  result: 'applied' | 'skipped' | 'failed';
  applied: string[];
  /**
   * Migrations this same process applied to the target before the run (at its start-up, or while
   * provisioning): a skipped target with some was migrated moments ago, not found current.
   * Absent when none.
   */
  appliedEarlier?: string[];
  error?: string;
}

export interface MigrationRunReport {
  latest: string | null;
  outcomes: MigrationOutcome[];
  /** Targets the run migrated (outcome `applied`). */
  applied: number;
  /** Targets the ledger recorded as current (outcome `skipped`), whether or not this process migrated them earlier. */
  skipped: number;
  /** Of the skipped targets, those this process migrated before the run (at start-up). */
  migratedEarlier: number;
  failed: number;
  millis: number;
}

export interface MigrationStatusRow {
  target: string;
  model: string;
  version: string | null;
  status: 'current' | 'behind' | 'failed' | 'unknown';
  error: string | null;
}

export interface MigrationRunOptions {
  /** Targets migrated at once on each server. Default 4. */
  concurrency?: number;
  /** Called after each target, for progress bars. */
  onProgress?: (done: number, total: number, outcome: MigrationOutcome) => void;
}

/**
 * Migrates every tenant: the shared tables, each tenant schema and each tenant database. Targets the
 * ledger records as current are skipped without a connection; the rest run with bounded
 * parallelism per server; a failing target is recorded and the run goes on; a second run resumes
 * with what is left. An advisory lock per target (in MigrationRunner) keeps two runs apart.
 */
@Injectable()
export class TenantMigrations {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly migrator: TenantMigrator,
    private readonly ledger: MigrationLedger,
  ) {}

  /** The name of the newest tenant migration: the version a current target is on. */
  get latest(): string | null {
    const last = this.options.migrations.at(-1);
    return last ? (new last().name ?? last.name) : null;
  }

  /** The places tenants share (the shared tables), then each tenant's place of its own that is ready (not being made or deleted). */
  targets(): MigrationTarget[] {
    const common = this.strategies.all().flatMap((s) => {
      const place = s.commonPlace();
      return place ? [{ target: place.target, model: s.model, location: place.location }] : [];
    });
    const tenants = this.catalog
      .list()
      .filter((t) => t.status !== 'deleting' && t.status !== 'provisioning' && this.strategies.hasOwnLedgerEntry(t))
      .map((t) => ({ target: t.id, model: t.strategy, location: this.strategies.for(t.strategy).location(t), pin: t.id }));
    return [...common, ...tenants];
  }

  /** Applies the migrations of one target and records the result in the ledger. */
  async migrateTarget(target: MigrationTarget): Promise<MigrationOutcome> {
    try {
      const applied = await this.migrator.migrate(target.location, target.pin);
      await this.ledger.recordCurrent(target.target, target.location.server, this.latest);
      return { target: target.target, model: target.model, result: 'applied', applied };
    } catch (err) {
      const error = errorMessage(err);
      await this.ledger.recordFailure(target.target, target.location.server, error).catch(() => undefined);
      return { target: target.target, model: target.model, result: 'failed', applied: [], error };
    }
  }

  async run(options: MigrationRunOptions = {}): Promise<MigrationRunReport> {
    const started = Date.now();
    const latest = this.latest;
    const ledger = await this.ledger.all();
    const targets = this.targets();
    const outcomes: MigrationOutcome[] = [];
    const report = (o: MigrationOutcome) => {
      outcomes.push(o);
      options.onProgress?.(outcomes.length, targets.length, o);
    };
    const byServer = new Map<string, MigrationTarget[]>();
    for (const t of targets) {
      const entry = ledger.get(t.target);
      if (entry?.status === 'current' && entry.version === latest && entry.server === t.location.server) {
        const earlier = this.migrator.appliedByThisProcess(t.location);
        report({
          target: t.target,
          model: t.model,
          result: 'skipped',
          applied: [],
          ...(earlier.length ? { appliedEarlier: earlier } : {}),
        });
        continue;
      }
      byServer.set(t.location.server, [...(byServer.get(t.location.server) ?? []), t]);
    }
    const concurrency = Math.max(1, options.concurrency ?? 4);
    await Promise.all(
      [...byServer.values()].map((queue) =>
        Promise.all(
          Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
            for (let t = queue.shift(); t; t = queue.shift()) report(await this.migrateTarget(t));
          }),
        ),
      ),
    );
    return {
      latest,
      outcomes,
      applied: outcomes.filter((o) => o.result === 'applied').length,
      skipped: outcomes.filter((o) => o.result === 'skipped').length,
      migratedEarlier: outcomes.filter((o) => o.appliedEarlier?.length).length,
      failed: outcomes.filter((o) => o.result === 'failed').length,
      millis: Date.now() - started,
    };
  }

  /** Which target is on which version, from the ledger alone (no tenant connection). */
  async status(): Promise<MigrationStatusRow[]> {
    const latest = this.latest;
    const ledger = await this.ledger.all();
    return this.targets().map((t) => {
      const entry = ledger.get(t.target);
      const status = !entry ? 'unknown' : entry.status === 'failed' ? 'failed' : entry.version === latest ? 'current' : 'behind';
      return { target: t.target, model: t.model, version: entry?.version ?? null, status, error: entry?.error ?? null };
    });
  }
}
