import { Inject, Injectable } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { pricesFor, ResolvedTenancyOptions, TENANCY_OPTIONS, type UnitPrices } from '../config/tenancy-options';
import type { IsolationModel } from '../core/isolation-model';
import type { TenantStatus } from '../core/tenant-record';
import { UnknownTenantError } from '../errors/tenancy.errors';
import { NoisyNeighbours } from './noisy-neighbours';
import { RecentLoad } from './recent-load';
import { estimateCost, type UsageCost } from './usage-cost';
import { UsageLedger, type UsagePoint, type UsageTotals } from './usage-ledger';
import { TenantStorage } from './tenant-storage';

/** A period of the usage reports: the current UTC calendar month or day, up to now. */
export type UsagePeriod = 'month' | 'day';

/** One tenant's line of a usage report. */
export interface TenantUsage extends UsageTotals {
  tenantId: string;
  model: IsolationModel;
  tier: string | null;
  status: TenantStatus;
  /** Bytes the tenant holds now (see `TenantStorage`); null when unknown. */
  storageBytes: number | null;
  /** In the currency of the tenant's tier's prices. */
  cost: UsageCost;
}

/** `UsageReports.period`: every tenant of the catalog over [from, to). */
export interface UsageReport {
  from: Date;
  to: Date;
  /** The prices of tenants without a tier (the file's `prices`, else the defaults); tiers may override them. */
  prices: UnitPrices;
  tenants: TenantUsage[];
}

/** `UsageReports.tenant`: one tenant over [from, to), step by step. */
export interface TenantUsageSeries {
  tenantId: string;
  from: Date;
  to: Date;
  step: 'minute' | 'hour';
  points: UsagePoint[];
  totals: UsageTotals;
  storageBytes: number | null;
  cost: UsageCost;
}

/** One tenant's live figures on this instance (see `UsageReports.activity`). */
export interface TenantLiveFigures {
  tenantId: string;
  model: IsolationModel;
  tier: string | null;
  requestsPerSecond: number;
  p99Ms: number;
  /** Errors / requests, 0 to 1. */
  errorRate: number;
  databaseMsPerSecond: number;
  noisy: boolean;
}

/** A range up to this long is reported per minute; a longer one per hour. */
export const MINUTE_STEP_MAX_MILLIS = 6 * 3_600_000;

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Usage and cost per tenant, for the admin API and the CLI: the ledger's counts (`UsageLedger`),
 * today's storage (`TenantStorage`), the unit prices of each tenant's tier (`pricesFor`) and, for
 * the live figures, this instance's recent load (`RecentLoad`, `NoisyNeighbours`).
 */
@Injectable()
export class UsageReports {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly catalog: TenantCatalog,
    private readonly ledger: UsageLedger,
    private readonly storage: TenantStorage,
    private readonly load: RecentLoad,
    private readonly noisy: NoisyNeighbours,
  ) {}

  /** [start of the current UTC month or day, now). */
  static periodRange(period: UsagePeriod, now = new Date()): { from: Date; to: Date } {
    const from =
      period === 'month'
        ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
        : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    return { from, to: now };
  }

  /**
   * Every tenant of the catalog (and `tenantId` alone when given) with its usage over [from, to)
   * and its estimated cost, most expensive first.
   * @throws UnknownTenantError (404) when `tenantId` is not in the catalog.
   */
  async period(from: Date, to: Date, tenantId?: string): Promise<UsageReport> {
    const tenants = tenantId ? [this.require(tenantId)] : this.catalog.list();
    const [totals, sizes] = await Promise.all([this.ledger.totals(from, to), this.storage.sizes()]);
    const hours = (to.getTime() - from.getTime()) / 3_600_000;
    const rows = tenants.map((t): TenantUsage => {
      const used = totals.get(t.id) ?? { requests: 0, errors: 0, databaseMs: 0, rowsWritten: 0 };
      const storageBytes = sizes.get(t.id) ?? null;
      return {
        tenantId: t.id,
        model: t.strategy,
        tier: t.tier ?? null,
        status: t.status,
        ...used,
        storageBytes,
        cost: estimateCost({ ...used, storageBytes }, pricesFor(this.options.catalog, t.tier), hours),
      };
    });
    rows.sort((a, b) => b.cost.total - a.cost.total || a.tenantId.localeCompare(b.tenantId));
    return { from, to, prices: pricesFor(this.options.catalog, undefined), tenants: rows };
  }

  /**
   * One tenant's usage over [from, to): per minute for a range of up to 6 hours, per hour beyond
   * (one point per step, zeros included), its totals, storage and estimated cost.
   * @throws UnknownTenantError (404) when the tenant is not in the catalog.
   */
  async tenant(tenantId: string, from: Date, to: Date): Promise<TenantUsageSeries> {
    const tenant = this.require(tenantId);
    const step = to.getTime() - from.getTime() > MINUTE_STEP_MAX_MILLIS ? 'hour' : 'minute';
    const [points, sizes] = await Promise.all([this.ledger.series(tenantId, from, to, step), this.storage.sizes()]);
    const totals = { requests: 0, errors: 0, databaseMs: 0, rowsWritten: 0 };
    for (const p of points) {
      totals.requests += p.requests;
      totals.errors += p.errors;
      totals.databaseMs += p.databaseMs;
      totals.rowsWritten += p.rowsWritten;
    }
    totals.databaseMs = round(totals.databaseMs);
    const storageBytes = sizes.get(tenantId) ?? null;
    const hours = (to.getTime() - from.getTime()) / 3_600_000;
    const cost = estimateCost({ ...totals, storageBytes }, pricesFor(this.options.catalog, tenant.tier), hours);
    return { tenantId, from, to, step, points, totals, storageBytes, cost };
  }

  /** The `top` tenants' requests per minute over the last `minutes` minutes (this one included). */
  recent(minutes: number, top: number, now = new Date()): ReturnType<UsageLedger['recentByMinute']> {
    const start = Math.floor(now.getTime() / 60_000) * 60_000 - (minutes - 1) * 60_000;
    return this.ledger.recentByMinute(new Date(start), new Date(start + minutes * 60_000), top);
  }

  /** This instance's live figures per tenant over the last `seconds` (1 to 3,600), busiest first. */
  activity(seconds: number): TenantLiveFigures[] {
    return this.load.loads(seconds).map((l) => ({
      tenantId: l.tenant.id,
      model: l.tenant.strategy,
      tier: l.tenant.tier ?? null,
      requestsPerSecond: round(l.requests / seconds),
      p99Ms: l.p99Ms,
      errorRate: round(l.requests ? l.errors / l.requests : 0, 4),
      databaseMsPerSecond: round(l.databaseMs / seconds),
      noisy: this.noisy.isNoisy(l.tenant.id),
    }));
  }

  private require(tenantId: string) {
    const tenant = this.catalog.get(tenantId);
    if (!tenant) throw new UnknownTenantError(tenantId);
    return tenant;
  }
}
