import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import { IsolationModel, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../data-source/owner-connections';
import { quoteIdent, TenantNaming } from './tenant-naming';
import { TenantRecord, TenantStatus } from './tenant-record';

const COLUMNS = `id, name, tier, strategy, server, status, exported_at AS "exportedAt", created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewTenant {
  id: string;
  name: string;
  tier: string | null;
  strategy: IsolationModel;
  server: string;
}

/**
 * The tenant catalog: a table in the control database, mirrored in memory so that resolving a
 * tenant costs no query. Every instance hears each change within a second through LISTEN/NOTIFY
 * (a trigger on the table sends it) and re-reads the whole table periodically as a safety net.
 */
@Injectable()
export class TenantCatalog implements OnApplicationShutdown {
  private readonly logger = new Logger('TenantCatalog');
  private tenants = new Map<string, TenantRecord>();
  private listener?: Client;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Emits `change` with the tenant id (or `*` after a full reload). */
  readonly events = new EventEmitter();

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
  ) {}

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.tenants`;
  }

  async start(): Promise<void> {
    await this.reload();
    await this.listen();
    this.timer = setInterval(() => void this.reload().catch((e) => this.logger.warn(`catalog re-read failed: ${e.message}`)), this.options.catalogRefreshMillis);
    this.timer.unref();
  }

  get(id: string): TenantRecord | undefined {
    return this.tenants.get(id);
  }

  list(): TenantRecord[] {
    return [...this.tenants.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Records a tenant as `provisioning` unless it exists; returns the stored row either way. */
  async insertIfMissing(tenant: NewTenant): Promise<TenantRecord> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${this.table} (id, name, tier, strategy, server) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
      [tenant.id, tenant.name, tenant.tier, tenant.strategy, tenant.server],
    );
    return (await this.refresh(tenant.id))!;
  }

  async update(id: string, changes: Partial<Pick<TenantRecord, 'name' | 'tier' | 'status'>>): Promise<TenantRecord | undefined> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `UPDATE ${this.table} SET name = COALESCE($2, name), tier = COALESCE($3, tier), status = COALESCE($4, status), updated_at = now() WHERE id = $1`,
      [id, changes.name ?? null, changes.tier ?? null, changes.status ?? null],
    );
    return this.refresh(id);
  }

  async markExported(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`UPDATE ${this.table} SET exported_at = now() WHERE id = $1`, [id]);
    await this.refresh(id);
  }

  /** Removes a tenant from the catalog (its data must be gone already). */
  async remove(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
    await this.refresh(id);
  }

  setStatus(id: string, status: TenantStatus): Promise<TenantRecord | undefined> {
    return this.update(id, { status });
  }

  /** Re-reads one tenant (or forgets it when gone). */
  async refresh(id: string): Promise<TenantRecord | undefined> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT ${COLUMNS} FROM ${this.table} WHERE id = $1`, [id]);
    if (row) this.tenants.set(id, row);
    else this.tenants.delete(id);
    this.events.emit('change', id);
    return row;
  }

  async reload(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const rows: TenantRecord[] = await ds.query(`SELECT ${COLUMNS} FROM ${this.table}`);
    this.tenants = new Map(rows.map((r) => [r.id, r]));
    this.events.emit('change', '*');
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.options.databaseUrl, application_name: 'nest-tenancy:catalog' });
    client.on('notification', (msg) => {
      if (msg.channel === 'tenancy_catalog' && msg.payload) {
        void this.refresh(msg.payload).catch((e) => this.logger.warn(`catalog refresh failed: ${e.message}`));
      }
    });
    client.on('error', (err) => {
      this.logger.warn(`catalog listener lost its connection (${err.message}); reconnecting`);
      void client.end().catch(() => undefined);
      if (this.listener === client) this.listener = undefined;
      setTimeout(() => void this.reconnect(), 1_000).unref();
    });
    await client.connect();
    await client.query('LISTEN tenancy_catalog');
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    if (this.stopped || this.listener) return;
    try {
      await this.listen();
      await this.reload();
    } catch (err) {
      this.logger.warn(`catalog listener reconnect failed (${(err as Error).message}); retrying`);
      setTimeout(() => void this.reconnect(), 1_000).unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }
}
