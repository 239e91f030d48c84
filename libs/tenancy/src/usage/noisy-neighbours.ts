import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import type { TenantRecord } from '../core/tenant-record';
import { TenantAdmission } from '../data-source/tenant-admission';
import { RecentLoad, type WindowLoad } from './recent-load';

/** A tenant above `factor` times the median load of a window. */
export interface NoisyTenant {
  tenantId: string;
  /** Units of work in the window. */
  requests: number;
  /** Their database time in the window, in milliseconds. */
  databaseMs: number;
  /** The larger of requests / median requests and database time / median database time. */
  ratio: number;
  /** When the detection first found it noisy (this time round); null when it has not (yet). */
  since: Date | null;
  /** Whether it is held to its tier's rate for being noisy now (`throttleWhenNoisy`). */
  throttled: boolean;
}

/** The noisy tenants of a window, with the medians they were compared with. */
export interface NoisyReport {
  seconds: number;
  factor: number;
  /** The median over the tenants active in the window (a tenant with no activity is not counted). */
  median: { requests: number; databaseMs: number };
  tenants: NoisyTenant[];
}

/** A tenant turned noisy (`noisy: true`) or quiet again (`noisy: false`). */
export interface NoisyChange {
  tenant: TenantRecord;
  noisy: boolean;
  requests: number;
  databaseMs: number;
  ratio: number;
  throttled: boolean;
}

/**
 * Noisy neighbours on this instance: every `usage.noisy.checkMillis` (default 5 s) it compares each
 * active tenant's load over the last `usage.noisy.windowSeconds` (default 60 s, from `RecentLoad`)
 * with the median of the active tenants; a tenant with more than `factor` (default 10) times the
 * median requests (and at least `minRequests`) or database time (and at least
 * `minDatabaseMillis`) is noisy. When a tenant turns noisy it logs a warning with the tenant and
 * its figures, tells the `subscribe` listeners (the app's metrics), and, when its tier has
 * `throttleWhenNoisy`, holds it to the tier's rate (`TenantAdmission.throttle`) until it is quiet
 * again. With one active tenant the median is its own load: nobody is noisy alone.
 *
 * The detection is per instance (each sees its own traffic); the rate it applies is shared across
 * instances when the rate store is (Redis).
 */
@Injectable()
export class NoisyNeighbours implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('NoisyNeighbours');
  /** Noisy tenants now, with when they turned noisy. */
  private readonly noisy = new Map<string, { since: Date; tenant: TenantRecord }>();
  private readonly listeners = new Set<(change: NoisyChange) => void>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly load: RecentLoad,
    private readonly admission: TenantAdmission,
    private readonly catalog: TenantCatalog,
  ) {}

  /** The factor over the median that makes a tenant noisy. */
  get factor(): number {
    return this.options.usage.noisy.factor;
  }

  onModuleInit(): void {
    if (!this.options.usage.record) return;
    this.timer = setInterval(() => this.check(), this.options.usage.noisy.checkMillis);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Calls `listener` with every change (turned noisy, quiet again); returns the unsubscribe. */
  subscribe(listener: (change: NoisyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the detection holds `tenantId` as noisy now. */
  isNoisy(tenantId: string): boolean {
    return this.noisy.has(tenantId);
  }

  /** Forgets `tenantId` (a deleted tenant): not held noisy, and not reported quiet again either. */
  forget(tenantId: string): void {
    this.noisy.delete(tenantId);
  }

  /** The tenants the detection holds as noisy now. */
  current(): TenantRecord[] {
    return [...this.noisy.values()].map((n) => n.tenant);
  }

  /**
   * Runs the detection over the configured window now (what the timer does): tenants that turned
   * noisy or quiet are logged, reported to the listeners and throttled or released.
   */
  check(): NoisyReport {
    const report = this.report(this.options.usage.noisy.windowSeconds);
    const now = new Set(report.tenants.map((t) => t.tenantId));
    for (const t of report.tenants) {
      if (this.noisy.has(t.tenantId)) continue;
      const tenant = this.catalog.get(t.tenantId);
      if (!tenant) continue;
      this.noisy.set(t.tenantId, { since: new Date(), tenant });
      const throttled = this.admission.throttle(tenant, true);
      this.logger.warn({
        msg: `Tenant ${tenant.id} is a noisy neighbour: ${t.requests} requests and ${Math.round(t.databaseMs)} ms of database time in ${report.seconds} s, ${t.ratio}× the median${throttled ? '; held to its tier rate' : ''}`,
        tenant: tenant.id,
        model: tenant.strategy,
        tier: tenant.tier ?? undefined,
        requests: t.requests,
        databaseMs: Math.round(t.databaseMs),
        ratio: t.ratio,
        throttled,
      });
      this.emit({ tenant, noisy: true, requests: t.requests, databaseMs: t.databaseMs, ratio: t.ratio, throttled });
    }
    for (const [id, n] of this.noisy) {
      if (now.has(id)) continue;
      this.noisy.delete(id);
      this.admission.throttle(n.tenant, false);
      this.logger.log({
        msg: `Tenant ${id} is no longer a noisy neighbour`,
        tenant: id,
        model: n.tenant.strategy,
        tier: n.tenant.tier ?? undefined,
      });
      this.emit({ tenant: n.tenant, noisy: false, requests: 0, databaseMs: 0, ratio: 0, throttled: false });
    }
    return report;
  }

  /**
   * The tenants above `factor` times the median over the last `seconds` (1 to 3,600) of this
   * instance, noisiest first. Reads only; the detection's state is not changed.
   */
  report(seconds: number): NoisyReport {
    const loads = this.load.loads(seconds);
    const median = { requests: medianOf(loads.map((l) => l.requests)), databaseMs: round(medianOf(loads.map((l) => l.databaseMs))) };
    const { factor, minRequests, minDatabaseMillis } = this.options.usage.noisy;
    const tenants: NoisyTenant[] = [];
    for (const l of loads) {
      const byRequests = l.requests / Math.max(median.requests, 1);
      const byDatabase = l.databaseMs / Math.max(median.databaseMs, 1);
      const noisy = (l.requests >= minRequests && byRequests > factor) || (l.databaseMs >= minDatabaseMillis && byDatabase > factor);
      if (!noisy) continue;
      tenants.push(this.entry(l, Math.max(byRequests, byDatabase)));
    }
    return { seconds, factor, median, tenants: tenants.sort((a, b) => b.ratio - a.ratio) };
  }

  private entry(l: WindowLoad, ratio: number): NoisyTenant {
    return {
      tenantId: l.tenant.id,
      requests: l.requests,
      databaseMs: round(l.databaseMs),
      ratio: round(ratio),
      since: this.noisy.get(l.tenant.id)?.since ?? null,
      throttled: this.admission.isThrottled(l.tenant),
    };
  }

  private emit(change: NoisyChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

/** The median of `values` (the mean of the middle two for an even count); 0 for none. */
export function medianOf(values: number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
