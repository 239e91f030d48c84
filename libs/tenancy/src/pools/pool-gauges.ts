import { Injectable } from '@nestjs/common';
import { HomeDataSource } from './home-data-source';
import { PoolRegistry } from './pool-registry';

/** The connections of one runtime pool set, now. */
export interface PoolGauge {
  /** `home`: the pool of the shared and schema models; `tenant`: the per-tenant pools (database model) of `server`. */
  pool: 'home' | 'tenant';
  /** `default` or a `servers` name. */
  server: string;
  /** Connections open (leased and idle). */
  open: number;
  /** Connections open and idle. */
  idle: number;
  /** Connections held by units of work. */
  leased: number;
  /** Units of work waiting for a connection. */
  waiting: number;
}

/**
 * The runtime pools' figures for a metrics collector, read when it asks (nothing is counted on the
 * request path beyond what the pools keep anyway).
 */
@Injectable()
export class PoolGauges {
  constructor(
    private readonly home: HomeDataSource,
    private readonly registry: PoolRegistry,
  ) {}

  /** The home pool, then one row per server with tenant pools open. */
  read(): PoolGauge[] {
    const home = this.home.stats();
    const rows: PoolGauge[] = [{ pool: 'home', server: 'default', ...home, leased: home.open - home.idle }];
    const stats = this.registry.stats();
    for (const server of Object.keys(stats.open)) {
      rows.push({
        pool: 'tenant',
        server,
        open: stats.open[server],
        idle: stats.idle[server] ?? 0,
        leased: stats.busy[server] ?? 0,
        waiting: stats.waiting[server] ?? 0,
      });
    }
    return rows;
  }

  /** Since start: tenant pools closed for idleness, and idle connections closed to make room under a server's budget. */
  evictions(): { idlePools: number; idleConnections: number } {
    return this.registry.stats().evictions;
  }
}
