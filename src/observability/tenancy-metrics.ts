import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  LifecycleProgressReader,
  NoisyNeighbours,
  PoolGauges,
  TenantActivity,
  TenantCatalog,
  tenantRequestInfo,
  type LifecycleProgress,
  type TenantActivitySample,
} from '../../libs/tenancy/src';
import { OBSERVABILITY_CONFIG, type ObservabilityConfig } from './observability.config';
import { routeOf } from './request-route';

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The label value of requests without a tenant (excluded paths, refusals before resolution). */
const NONE = 'none';
/** The per-tenant series of every tenant outside the top K. */
export const OTHER_TENANTS = 'other';
/** Moves and migrations are read from the control database at most this often. */
const PROGRESS_TTL_MILLIS = 5_000;

type RequestLabels = 'method' | 'route' | 'status' | 'model' | 'tier';
/** One per-tenant series: a top tenant, or the `other` tenants of a model and tier. */
interface TenantLoadRow {
  tenant: string;
  model: string;
  tier: string;
  requests: number;
  errors: number;
  databaseMillis: number;
}
type Children = { count: Counter.Internal; latency: Histogram.Internal<string> };

/**
 * The service's Prometheus metrics (prom-client, a registry of its own):
 *
 * - `http_requests_total{method,route,status,model,tier}` and
 *   `http_request_duration_seconds{method,route,model,tier}`: every HTTP request, labelled with the
 *   route template (never the URL) and the tenant's model and tier (`none` without a tenant);
 * - `tenancy_unit_of_work_database_seconds{kind,model,tier}`: database time of each unit of work
 *   (a request, or a `TenancyService.run`);
 * - `tenancy_pool_connections{pool,server,state}` (open, idle, leased, waiting) and
 *   `tenancy_pool_evictions_total{reason}`;
 * - `tenancy_tenants{model,status}`;
 * - `tenancy_noisy_tenants{model,tier}` and `tenancy_noisy_neighbour_events_total{model,tier,throttled}`:
 *   noisy neighbours now, and each time one turned noisy (`NoisyNeighbours`);
 * - `tenancy_tenant_recent_{requests,errors,database_seconds}{tenant,model,tier}`: the load of the
 *   last minute, per tenant for the `topTenants` busiest, the rest summed as `tenant="other"` per
 *   model and tier, so the series stay at most K + models × tiers whatever the number of tenants;
 * - `tenancy_moves{phase,source,target}`, `tenancy_move_copied_rows{tenant,phase}` and
 *   `tenancy_migration_targets{model,status}`: lifecycle progress from the control database;
 * - Node's process metrics (CPU, memory, event loop lag, GC).
 *
 * The request path pays one cached label lookup, a counter and a histogram per request; everything
 * else is read when Prometheus scrapes.
 */
@Injectable()
export class TenancyMetrics implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly requests: Counter<RequestLabels>;
  private readonly latency: Histogram<Exclude<RequestLabels, 'status'>>;
  private readonly database: Histogram<'kind' | 'model' | 'tier'>;
  private readonly children = new Map<string, Children>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeNoisy: () => void;
  private progress?: { at: number; value: Promise<LifecycleProgress | undefined> };

  constructor(
    @Inject(OBSERVABILITY_CONFIG) private readonly config: ObservabilityConfig,
    private readonly activity: TenantActivity,
    catalog: TenantCatalog,
    pools: PoolGauges,
    private readonly lifecycle: LifecycleProgressReader,
    noisy: NoisyNeighbours,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template, status, and the tenant model and tier (none without a tenant).',
      labelNames: ['method', 'route', 'status', 'model', 'tier'],
      registers,
    });
    this.latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the request reaching the service to the response ending, in seconds.',
      labelNames: ['method', 'route', 'model', 'tier'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.database = new Histogram({
      name: 'tenancy_unit_of_work_database_seconds',
      help: 'Database time of each unit of work (first query waiting for a connection to the end of COMMIT or ROLLBACK), in seconds; kind is request or run.',
      labelNames: ['kind', 'model', 'tier'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.unsubscribe = activity.subscribe((s: TenantActivitySample) =>
      this.database.observe({ kind: s.kind, model: s.tenant.strategy, tier: s.tenant.tier ?? NONE }, s.databaseMillis / 1000),
    );
    new Gauge({
      name: 'tenancy_pool_connections',
      help: 'Runtime pool connections now: open (leased and idle), idle, leased by units of work, and units of work waiting for one; pool home serves the shared and schema models, pool tenant the database model of a server.',
      labelNames: ['pool', 'server', 'state'],
      registers,
      collect() {
        this.reset();
        for (const row of pools.read()) {
          for (const state of ['open', 'idle', 'leased', 'waiting'] as const)
            this.set({ pool: row.pool, server: row.server, state }, row[state]);
        }
      },
    });
    new Counter({
      name: 'tenancy_pool_evictions_total',
      help: 'Tenant pools closed for being idle (reason idle_pool), and idle connections closed to make room under a server budget (reason make_room).',
      labelNames: ['reason'],
      registers,
      collect() {
        const evictions = pools.evictions();
        this.reset();
        this.inc({ reason: 'idle_pool' }, evictions.idlePools);
        this.inc({ reason: 'make_room' }, evictions.idleConnections);
      },
    });
    new Gauge({
      name: 'tenancy_tenants',
      help: 'Tenants in the catalog, by isolation model and status.',
      labelNames: ['model', 'status'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, { model: string; status: string; n: number }>();
        for (const t of catalog.list()) {
          const key = `${t.strategy}/${t.status}`;
          const entry = counts.get(key) ?? { model: t.strategy, status: t.status, n: 0 };
          entry.n++;
          counts.set(key, entry);
        }
        for (const c of counts.values()) this.set({ model: c.model, status: c.status }, c.n);
      },
    });
    new Gauge({
      name: 'tenancy_noisy_tenants',
      help: "Tenants this instance's detection holds as noisy neighbours now (over factor × the median load), by model and tier.",
      labelNames: ['model', 'tier'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, { model: string; tier: string; n: number }>();
        for (const t of noisy.current()) {
          const tier = t.tier ?? NONE;
          const entry = counts.get(`${t.strategy}/${tier}`) ?? { model: t.strategy, tier, n: 0 };
          entry.n++;
          counts.set(`${t.strategy}/${tier}`, entry);
        }
        for (const c of counts.values()) this.set({ model: c.model, tier: c.tier }, c.n);
      },
    });
    const turnedNoisy = new Counter({
      name: 'tenancy_noisy_neighbour_events_total',
      help: 'Times a tenant turned noisy on this instance (the log line names the tenant), by model and tier, and whether it was throttled to its tier rate.',
      labelNames: ['model', 'tier', 'throttled'],
      registers,
    });
    this.unsubscribeNoisy = noisy.subscribe((c) => {
      if (c.noisy) turnedNoisy.inc({ model: c.tenant.strategy, tier: c.tenant.tier ?? NONE, throttled: String(c.throttled) });
    });
    this.tenantLoadGauges(registers);
    this.progressGauges(registers);
  }

  /**
   * Counts one ended HTTP request (`res` has closed). `startedAt`: performance.now() when it arrived.
   */
  observeRequest(req: IncomingMessage, res: ServerResponse, startedAt: number): void {
    const tenant = tenantRequestInfo(req);
    const method = req.method ?? 'GET';
    const route = routeOf(req);
    const status = res.headersSent ? String(res.statusCode) : '0';
    const model = tenant?.model ?? NONE;
    const tier = tenant?.tier ?? NONE;
    const key = `${method} ${route} ${status} ${model} ${tier}`;
    let c = this.children.get(key);
    if (!c) {
      c = {
        count: this.requests.labels({ method, route, status, model, tier }),
        latency: this.latency.labels({ method, route, model, tier }),
      };
      this.children.set(key, c);
    }
    c.count.inc();
    c.latency.observe((performance.now() - startedAt) / 1000);
  }

  /** The metrics in Prometheus's text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.unsubscribeNoisy();
    this.registry.clear();
  }

  private tenantLoadGauges(registers: Registry[]): void {
    const top = () => this.topTenantLoads();
    const labelNames = ['tenant', 'model', 'tier'] as const;
    let snapshot: TenantLoadRow[] | undefined;
    // A scrape collects the gauges in the order they were registered: the first ranks the tenants
    // afresh, the other two reuse its ranking, so the three agree on who is in the top K.
    const gauge = (
      name: string,
      help: string,
      value: (l: { requests: number; errors: number; databaseMillis: number }) => number,
      first = false,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const rows = first || !snapshot ? (snapshot = top()) : snapshot;
          for (const l of rows) this.set({ tenant: l.tenant, model: l.model, tier: l.tier }, value(l));
        },
      });
    const window = `over the last ${this.activity.windowSeconds} s`;
    gauge(
      'tenancy_tenant_recent_requests',
      `Requests and runs ended ${window}: the ${this.config.topTenants} busiest tenants by id, the rest as tenant="other" per model and tier.`,
      (l) => l.requests,
      true,
    );
    gauge(
      'tenancy_tenant_recent_errors',
      `Requests answered 5xx and runs that threw ${window} (tenants as in tenancy_tenant_recent_requests).`,
      (l) => l.errors,
    );
    gauge(
      'tenancy_tenant_recent_database_seconds',
      `Database seconds of units of work ended ${window} (tenants as in tenancy_tenant_recent_requests).`,
      (l) => l.databaseMillis / 1000,
    );
  }

  /** The top K tenants by load, then the rest summed per model and tier as `other`. */
  private topTenantLoads(): TenantLoadRow[] {
    const loads = this.activity.recent();
    const rows: TenantLoadRow[] = loads.slice(0, this.config.topTenants).map((l) => ({
      tenant: l.tenant,
      model: l.model,
      tier: l.tier ?? NONE,
      requests: l.requests + l.runs,
      errors: l.errors,
      databaseMillis: l.databaseMillis,
    }));
    const others = new Map<string, TenantLoadRow>();
    for (const l of loads.slice(this.config.topTenants)) {
      const tier = l.tier ?? NONE;
      const key = `${l.model}/${tier}`;
      const o = others.get(key) ?? { tenant: OTHER_TENANTS, model: l.model, tier, requests: 0, errors: 0, databaseMillis: 0 };
      o.requests += l.requests + l.runs;
      o.errors += l.errors;
      o.databaseMillis += l.databaseMillis;
      others.set(key, o);
    }
    return [...rows, ...others.values()];
  }

  private progressGauges(registers: Registry[]): void {
    const read = () => this.readProgress();
    new Gauge({
      name: 'tenancy_moves',
      help: 'Tenant moves recorded in the control database (any instance), by phase and source and target model.',
      labelNames: ['phase', 'source', 'target'],
      registers,
      async collect() {
        this.reset();
        const counts = new Map<string, { phase: string; source: string; target: string; n: number }>();
        for (const m of (await read())?.moves ?? []) {
          const key = `${m.phase}/${m.sourceStrategy}/${m.targetStrategy}`;
          const entry = counts.get(key) ?? { phase: m.phase, source: m.sourceStrategy, target: m.targetStrategy, n: 0 };
          entry.n++;
          counts.set(key, entry);
        }
        for (const c of counts.values()) this.set({ phase: c.phase, source: c.source, target: c.target }, c.n);
      },
    });
    new Gauge({
      name: 'tenancy_move_copied_rows',
      help: 'Rows a recorded move has copied so far (bulk copy and catch-up), per tenant being moved and phase.',
      labelNames: ['tenant', 'phase'],
      registers,
      async collect() {
        this.reset();
        for (const m of (await read())?.moves ?? []) {
          let rows = 0;
          for (const t of Object.values(m.progress?.tables ?? {})) rows += (t.copied ?? 0) + (t.caughtUp ?? 0);
          this.set({ tenant: m.tenantId, phase: m.phase }, rows);
        }
      },
    });
    new Gauge({
      name: 'tenancy_migration_targets',
      help: 'Migration targets (the shared tables, each tenant schema and database) by model and ledger status: current, behind, failed, unknown.',
      labelNames: ['model', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const m of (await read())?.migrations ?? []) this.set({ model: m.model, status: m.status }, m.targets);
      },
    });
  }

  /** Moves and migrations, read at most every 5 s; undefined when the control database does not answer. */
  private readProgress(): Promise<LifecycleProgress | undefined> {
    const now = Date.now();
    if (!this.progress || now - this.progress.at > PROGRESS_TTL_MILLIS) {
      this.progress = { at: now, value: this.lifecycle.read().catch(() => undefined) };
    }
    return this.progress.value;
  }
}
