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
  pools: number;
  /** Pools leased now. */
  inUse: number;
  /** Per server: connections open now (in use and idle) over all its tenant pools. */
  open: Record<string, number>;
  /** Per server: connections held by units of work now (permits of the budget). */
  busy: Record<string, number>;
}

/** The part of pg's Pool the registry reads. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  connect(): Promise<{ release(destroy?: boolean): void }>;
}

/**
 * Per-tenant pools of the database model. A pool is created on first use, with one creation in
 * flight per tenant however many requests arrive at once; a pool opens connections only as queries
 * need them. Each server has a connection budget (`databasePools.budgetPerServer`) that counts
 * connections, not pools: a unit of work takes a permit of the `ConnectionBudget` when its first
 * query needs a connection (`lease.admit()`), so a tier's pool `max` is a ceiling, never a
 * reservation. When a connection must be opened and the server's open connections (in use plus
 * idle) already reach the budget, an idle connection of another pool is closed (the whole pool if
 * nobody leases it), least recently used first. A pool idle for `idleMillis` is closed by a
 * sweeper. A pool that is leased is never closed.
 */
@Injectable()
export class PoolRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger('PoolRegistry');
  /** Iteration order is least recently used first (an entry is re-inserted on every use). */
  private readonly entries = new Map<string, PoolEntry>();
  private readonly sweeper: NodeJS.Timeout;

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
    let inUse = 0;
    for (const e of this.entries.values()) {
      open[e.server] = (open[e.server] ?? 0) + (poolOf(e)?.totalCount ?? 0);
      busy[e.server] = this.budget.busy(e.server);
      if (e.refs > 0) inUse++;
    }
    return { pools: this.entries.size, inUse, open, busy };
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
    // Initializing opens the pool's first connection: it counts against the budget like any other.
    const permit = await this.budget.take(entry.server, entry.tenantId, entry.max);
    try {
      await this.makeRoom(entry);
      entry.dataSource = await ds.initialize();
    } finally {
      permit();
    }
    return entry.dataSource;
  }

  /**
   * Called once `entry` holds a permit. Every permit holder of a pool ends up holding one of its
   * connections, so a pool will have `max(open, permits)` connections open: when that sum over the
   * server exceeds the budget, idle connections no permit holder of their pool is about to take are
   * closed, least recently used pool first (the whole pool when nobody leases it). A pool being
   * created holds a permit while it opens its first connection, so room is made for that one too.
   * Resolves once the idle connections chosen are closed (a whole pool closes in the background:
   * it leaves the registry's count at once).
   */
  private async makeRoom(entry: PoolEntry): Promise<void> {
    const closing: Promise<void>[] = [];
    const permits = (e: PoolEntry) => this.budget.busy(e.server, e.tenantId);
    // The pool of `entry` may not be open yet (it is being created): its permits count for it.
    let excess = -this.options.databasePools.budgetPerServer;
    for (const e of this.entries.values()) if (e.server === entry.server) excess += Math.max(poolOf(e)?.totalCount ?? 0, permits(e));
    for (const e of [...this.entries.values()]) {
      if (excess <= 0) break;
      const pool = poolOf(e);
      if (e === entry || e.server !== entry.server || !pool) continue;
      const spare = Math.min(pool.idleCount, pool.totalCount - permits(e));
      if (spare <= 0) continue;
      if (e.refs === 0) {
        excess -= pool.totalCount;
        this.entries.delete(e.tenantId);
        void this.close(e);
      } else {
        // pg's Pool has no "close one idle client": check one out (an idle one is handed out
        // first) and give it back destroyed.
        for (let n = Math.min(excess, spare); n > 0; n--, excess--)
          closing.push(
            pool.connect().then(
              (c) => c.release(true),
              () => undefined,
            ),
          );
      }
    }
    await Promise.all(closing);
  }

  private touch(entry: PoolEntry): void {
    entry.lastUsed = Date.now();
    if (this.entries.get(entry.tenantId) === entry) {
      this.entries.delete(entry.tenantId);
      this.entries.set(entry.tenantId, entry);
    }
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.options.databasePools.idleMillis;
    for (const e of [...this.entries.values()]) {
      if (e.refs === 0 && e.dataSource && e.lastUsed < cutoff) {
        this.entries.delete(e.tenantId);
        void this.close(e);
      }
    }
  }

  private async close(entry: PoolEntry): Promise<void> {
    try {
      const ds = await entry.ready;
      if (ds.isInitialized) await ds.destroy();
    } catch (err) {
      this.logger.debug(`closing the pool of ${entry.tenantId}: ${(err as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.close(e)));
  }
}

/** The pg Pool behind a pool entry's DataSource, once it is open. */
function poolOf(entry: PoolEntry): PgPool | undefined {
  return (entry.dataSource?.driver as unknown as { master?: PgPool } | undefined)?.master;
}
