import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../core/tenant-record';
import { clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { ConnectionBudget } from '../connections/connection-budget';
import { withDatabase } from '../core/connection-url';
import { FeatureEntities } from '../connections/feature-entities';
import { OwnerConnections } from '../connections/owner-connections';
import { createRuntimeDataSource, DataSourceLease } from '../connections/runtime-data-source';
import { RuntimeRole } from '../catalog/runtime-role';
import { errorMessage } from '../core/error-message';

interface PoolEntry {
  tenantId: string;
  server: string;
  database: string;
  max: number;
  refs: number;
  lastUsed: number;
  ready: Promise<DataSource>;
  dataSource?: DataSource;
}

export interface PoolRegistryStats {
  /** Pools in memory (a DataSource each), with or without connections. */
  pools: number;
  /** Pools with at least one connection open. */
  connected: number;
  /** Pools leased now. */
  inUse: number;
  /** Per server: connections open now (in use and idle) over all its tenant pools. */
  open: Record<string, number>;
  /** Per server: connections held by units of work now (permits of the budget). */
  busy: Record<string, number>;
  /** Per server: connections open and idle now. */
  idle: Record<string, number>;
  /** Per server: units of work waiting for a connection permit now (the budget is full). */
  waiting: Record<string, number>;
  /** Since start: pools closed for being idle `idleMillis`, and idle connections closed to make room under the budget. */
  evictions: { idlePools: number; idleConnections: number };
}

/** The part of pg's Pool the registry reads. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  connect(): Promise<{ release(destroy?: boolean): void }>;
  /**
   * pg-pool 3.x internals, used when present: the idle clients, least recently released first
   * (`connect` hands out the last one), and the removal of one idle client, which ends its
   * connection and then calls back. Without them an idle connection is closed through `connect`.
   */
  _idle?: { client: object }[];
  _remove?(client: object, callback: () => void): void;
}

/** What TypeORM's Postgres driver asks a new DataSource's first connection, when it does not know it yet. */
interface DriverFacts {
  version?: string;
  searchSchema?: string;
}

/**
 * Per-tenant pools of the database model. A pool is created on first use, with one creation in
 * flight per tenant however many requests arrive at once; a pool opens connections only as queries
 * need them. Each server has a connection budget (`databasePools.budgetPerServer`) that counts
 * connections, not pools: a unit of work takes a permit of the `ConnectionBudget` when its first
 * query needs a connection (`lease.admit()`), so a tier's pool `max` is a ceiling, never a
 * reservation. When a connection must be opened and the server's open connections (in use plus
 * idle) already reach the budget, idle connections of other pools are closed, least recently used
 * pool first: first the idle connections a pool holds beyond one, then pools' last ones, so that
 * as many tenants as the budget allows keep a connection. A pool whose connections were all
 * closed keeps its DataSource: its next unit of work opens one connection, nothing more. A pool
 * idle for `idleMillis` is closed, DataSource and all, by a sweeper. A pool that is leased is never
 * closed.
 */
@Injectable()
export class PoolRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger('PoolRegistry');
  /** Iteration order is least recently used first (an entry is re-inserted on every use). */
  private readonly entries = new Map<string, PoolEntry>();
  /**
   * Per server, the pools that may hold connections (used since they last had none), least
   * recently used first: what `makeRoom` looks through, so its cost follows the connections open,
   * not the tenants known.
   */
  private readonly live = new Map<string, Set<PoolEntry>>();
  /** Per server, the driver facts learned from its first tenant pool (see `open`). */
  private readonly facts = new Map<string, DriverFacts>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly evictions = { idlePools: 0, idleConnections: 0 };

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly role: RuntimeRole,
    private readonly naming: TenantNaming,
    private readonly entities: FeatureEntities,
  ) {
    const every = Math.max(250, Math.min(this.options.databasePools.idleMillis / 2, 10_000));
    this.sweeper = setInterval(() => this.evictIdle(), every);
    this.sweeper.unref();
    this.budget = new ConnectionBudget(this.options.databasePools.budgetPerServer, this.options.timeouts.acquireMillis);
  }

  private readonly budget: ConnectionBudget;

  async acquire(tenant: TenantRecord): Promise<DataSourceLease> {
    const database = this.naming.databaseFor(tenant.id);
    let entry = this.entries.get(tenant.id);
    if (entry && (entry.server !== tenant.server || entry.database !== database)) {
      // The tenant was moved to another server: retire the old pool once nobody uses it.
      this.entries.delete(tenant.id);
      if (entry.refs === 0) void this.close(entry);
      entry = undefined;
    }
    entry ??= this.create(tenant, database);
    entry.refs++;
    this.touch(entry);
    let dataSource: DataSource;
    try {
      dataSource = await entry.ready;
    } catch (err) {
      entry.refs--;
      throw err;
    }
    const held = entry;
    let released = false;
    return {
      dataSource,
      admit: async () => {
        const permit = await this.budget.take(held.server, held.tenantId, held.max);
        // The idle connections closed to make room are gone before this unit opens its own, so
        // the server never sees more than the budget at once.
        await this.makeRoom(held);
        return permit;
      },
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        // Used until now: the end of a long lease counts as recent use for LRU eviction too.
        this.touch(held);
        if (held.refs === 0 && this.entries.get(held.tenantId) !== held) void this.close(held);
      },
    };
  }

  stats(): PoolRegistryStats {
    const open: Record<string, number> = {};
    const busy: Record<string, number> = {};
    const idle: Record<string, number> = {};
    const waiting: Record<string, number> = {};
    let inUse = 0;
    let connected = 0;
    for (const e of this.entries.values()) {
      const pool = poolOf(e);
      const total = pool?.totalCount ?? 0;
      open[e.server] = (open[e.server] ?? 0) + total;
      idle[e.server] = (idle[e.server] ?? 0) + (pool?.idleCount ?? 0);
      busy[e.server] = this.budget.busy(e.server);
      waiting[e.server] = this.budget.waiting(e.server);
      if (e.refs > 0) inUse++;
      if (total > 0) connected++;
    }
    return { pools: this.entries.size, connected, inUse, open, busy, idle, waiting, evictions: { ...this.evictions } };
  }

  /** Closes the tenant's pool if it is idle (for example before its database is dropped). */
  async closeIdle(tenantId: string): Promise<boolean> {
    const entry = this.entries.get(tenantId);
    if (!entry) return true;
    if (entry.refs > 0) return false;
    this.entries.delete(tenantId);
    await this.close(entry);
    return true;
  }

  private create(tenant: TenantRecord, database: string): PoolEntry {
    const tierMax = tenant.tier ? this.options.catalog.tiers[tenant.tier]?.pool?.max : undefined;
    const max = Math.min(tierMax ?? this.options.databasePools.defaultMax, this.options.databasePools.budgetPerServer);
    const entry: PoolEntry = {
      tenantId: tenant.id,
      server: tenant.server,
      database,
      max,
      refs: 0,
      lastUsed: Date.now(),
      ready: undefined as never,
    };
    entry.ready = this.open(entry);
    entry.ready.catch(() => {
      if (this.entries.get(entry.tenantId) === entry) this.entries.delete(entry.tenantId);
    });
    this.entries.set(tenant.id, entry);
    return entry;
  }

  private async open(entry: PoolEntry): Promise<DataSource> {
    await this.role.ensureOn(entry.server);
    const credentials = await this.role.getCredentials();
    const url = withDatabase(this.owner.serverUrl(entry.server), entry.database, credentials);
    const ds = createRuntimeDataSource(
      url,
      this.entities.all(),
      {
        max: entry.max,
        idleTimeoutMillis: Math.min(this.options.databasePools.idleMillis, 30_000),
        maxLifetimeSeconds: this.options.databasePools.maxLifetimeSeconds,
        acquireMillis: this.options.timeouts.acquireMillis,
        queryTimeoutMillis: clientQueryTimeout(this.options),
      },
      `nest-tenancy:${entry.tenantId}`,
    );
    // TypeORM asks a new DataSource's first connection for the server's version and the current
    // schema: the same for every tenant database of a server (one role, one layout), so they are
    // asked once per server and given to later pools, which then open their connection and no more.
    const known = this.facts.get(entry.server);
    const driver = ds.driver as unknown as DriverFacts;
    if (known) Object.assign(driver, known);
    // Initializing opens the pool's first connection: it counts against the budget like any other.
    const permit = await this.budget.take(entry.server, entry.tenantId, entry.max);
    try {
      await this.makeRoom(entry);
      entry.dataSource = await ds.initialize();
    } finally {
      permit();
    }
    if (!known && driver.version && driver.searchSchema)
      this.facts.set(entry.server, { version: driver.version, searchSchema: driver.searchSchema });
    return entry.dataSource;
  }

  /**
   * Called once `entry` holds a permit. Every permit holder of a pool ends up holding one of its
   * connections, so a pool will have `max(open, permits)` connections open: when that sum over the
   * server exceeds the budget, idle connections no permit holder of their pool is about to take are
   * closed, least recently used pool first, in two passes: the idle connections a pool holds beyond
   * one, then pools' last ones (a pool left with none keeps its DataSource). A pool being created
   * holds a permit while it opens its first connection, so room is made for that one too. Resolves
   * once the connections chosen are closed, so the server never sees more than the budget.
   */
  private async makeRoom(entry: PoolEntry): Promise<void> {
    const live = this.liveOn(entry.server);
    const permits = (e: PoolEntry) => this.budget.busy(e.server, e.tenantId);
    // The pool of `entry` may not be open yet (it is being created): its permits count for it.
    let excess = -this.options.databasePools.budgetPerServer;
    for (const e of live) {
      const open = poolOf(e)?.totalCount ?? 0;
      const held = permits(e);
      // Nothing open, nothing held, nobody leasing it: out of the scan until it is used again.
      if (open === 0 && held === 0 && e.refs === 0 && e !== entry) live.delete(e);
      excess += Math.max(open, held);
    }
    if (excess <= 0) return;
    // What each pool can give, counted before anything is closed (closing changes the counts).
    const spares: { pool: PgPool; spare: number; beyondOne: number }[] = [];
    for (const e of live) {
      const pool = poolOf(e);
      if (e === entry || !pool) continue;
      const spare = Math.min(pool.idleCount, pool.totalCount - permits(e));
      if (spare > 0) spares.push({ pool, spare, beyondOne: Math.min(spare, pool.totalCount - 1) });
    }
    const closing: Promise<void>[] = [];
    for (const pass of ['beyondOne', 'spare'] as const) {
      for (const s of spares) {
        if (excess <= 0) break;
        const n = Math.min(excess, s[pass]);
        for (let k = 0; k < n; k++) closing.push(closeIdleConnection(s.pool));
        this.evictions.idleConnections += n;
        excess -= n;
        s.spare -= n;
        s.beyondOne -= n;
      }
    }
    await Promise.all(closing);
  }

  private liveOn(server: string): Set<PoolEntry> {
    let live = this.live.get(server);
    if (!live) this.live.set(server, (live = new Set()));
    return live;
  }

  /** A use of `entry`: most recently used now, and among the pools that may hold connections. */
  private touch(entry: PoolEntry): void {
    entry.lastUsed = Date.now();
    if (this.entries.get(entry.tenantId) === entry) {
      this.entries.delete(entry.tenantId);
      this.entries.set(entry.tenantId, entry);
    }
    const live = this.liveOn(entry.server);
    live.delete(entry);
    live.add(entry);
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.options.databasePools.idleMillis;
    for (const e of [...this.entries.values()]) {
      if (e.refs === 0 && e.dataSource && e.lastUsed < cutoff) {
        this.entries.delete(e.tenantId);
        this.evictions.idlePools++;
        void this.close(e);
      }
    }
  }

  private async close(entry: PoolEntry): Promise<void> {
    try {
      const ds = await entry.ready;
      if (ds.isInitialized) await ds.destroy();
    } catch (err) {
      this.logger.debug(`closing the pool of ${entry.tenantId}: ${errorMessage(err)}`);
    } finally {
      // Counted against the budget until its connections are gone.
      this.live.get(entry.server)?.delete(entry);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.close(e)));
  }
}

/** Closes one idle connection of `pool`, the least recently released; resolves once it has ended. */
function closeIdleConnection(pool: PgPool): Promise<void> {
  const oldest = pool._idle?.[0]?.client;
  if (oldest && typeof pool._remove === 'function') {
    const remove = pool._remove.bind(pool);
    return new Promise((resolve) => remove(oldest, resolve));
  }
  // pg's public API has no "close one idle client": check one out (an idle one is handed out
  // first) and give it back destroyed.
  return pool.connect().then(
    (c) => c.release(true),
    () => undefined,
  );
}

/** The pg Pool behind a pool entry's DataSource, once it is open. */
function poolOf(entry: PoolEntry): PgPool | undefined {
  return (entry.dataSource?.driver as unknown as { master?: PgPool } | undefined)?.master;
}
