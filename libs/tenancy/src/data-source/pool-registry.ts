import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../catalog/tenant-record';
import { clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantPoolExhaustedError } from '../errors/tenancy.errors';
import { withDatabase } from './connection-url';
import { FeatureEntities } from './feature-entities';
import { OwnerConnections } from './owner-connections';
import { createRuntimeDataSource, DataSourceLease } from './runtime-data-source';
import { RuntimeRole } from './runtime-role';

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
  inUse: number;
  reserved: Record<string, number>;
}

/**
 * Per-tenant pools of the database model. A pool is created on first use, with one creation in
 * flight per tenant however many requests arrive at once. Each server has a connection budget (the
 * sum of its pools' `max`); to make room the least recently used idle pool is closed, and a pool
 * idle for `idleMillis` is closed by a sweeper. A pool that is leased is never closed.
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
  }

  async acquire(tenant: TenantRecord): Promise<DataSourceLease> {
    const database = this.naming.databaseFor(tenant.id);
    let entry = this.entries.get(tenant.id);
    if (entry && (entry.server !== tenant.server || entry.database !== database)) {
      // The tenant was moved to another server: retire the old pool once nobody uses it.
      this.entries.delete(tenant.id);
      if (entry.refs === 0) this.close(entry);
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
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        // Used until now: the end of a long lease counts as recent use for LRU eviction too.
        this.touch(held);
        if (held.refs === 0 && this.entries.get(held.tenantId) !== held) this.close(held);
      },
    };
  }

  stats(): PoolRegistryStats {
    const reserved: Record<string, number> = {};
    let inUse = 0;
    for (const e of this.entries.values()) {
      reserved[e.server] = (reserved[e.server] ?? 0) + e.max;
      if (e.refs > 0) inUse++;
    }
    return { pools: this.entries.size, inUse, reserved };
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
    this.makeRoom(tenant.server, max);
    const entry: PoolEntry = { tenantId: tenant.id, server: tenant.server, database, max, refs: 0, lastUsed: Date.now(), ready: undefined as never };
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
    entry.dataSource = await ds.initialize();
    return entry.dataSource;
  }

  private makeRoom(server: string, needed: number): void {
    const budget = this.options.databasePools.budgetPerServer;
    let used = 0;
    for (const e of this.entries.values()) if (e.server === server) used += e.max;
    for (const e of [...this.entries.values()]) {
      if (used + needed <= budget) break;
      if (e.server === server && e.refs === 0 && e.dataSource) {
        this.entries.delete(e.tenantId);
        void this.close(e);
        used -= e.max;
      }
    }
    if (used + needed > budget) throw new TenantPoolExhaustedError(server);
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
