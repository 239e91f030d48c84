import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import type { EntityManager } from 'typeorm';
import { IsolationModel, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../connections/owner-connections';
import { isValidTenantId } from '../core/tenant-id';
import { TenantNaming } from './tenant-naming';
import { quoteIdent } from '../core/sql';
import { TenantRecord, TenantStatus } from '../core/tenant-record';
import { errorMessage } from '../core/error-message';

const COLUMNS = `id, name, tier, strategy, server, status, exported_at AS "exportedAt", exported_snapshot::text AS "exportedSnapshot", created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewTenant {
  id: string;
  name: string;
  tier: string | null;
  strategy: IsolationModel;
  server: string;
}

const CHANNEL = 'tenancy_catalog';
/** The payload of the start-up probe (not a valid tenant id, so never mistaken for one). */
const PROBE_PREFIX = 'probe:';

/**
 * The tenant catalog: a table in the control database, mirrored in memory so that resolving a
 * tenant costs no query. Every instance hears each change within a second through LISTEN/NOTIFY
 * (a trigger on the table sends it; the listener uses the direct URL) and re-reads the whole table
 * periodically as a safety net. At start the listener notifies itself: when that probe does not
 * come back (LISTEN behind a transaction pooler), it says so loudly and re-reads every
 * `catalogFallbackRefreshMillis` instead. What the service must know in time (a move's freeze and
 * switch) is enforced by the database anyway (strategies/location-fence.ts).
 *
 * A notification is only a hint: any role that can connect may NOTIFY the channel (the runtime role
 * too), so its payload is never trusted as state. A payload that is a valid tenant id triggers a
 * re-read of that one catalog row (at most one in flight per id, and one more queued); anything else
 * is ignored.
 */
@Injectable()
export class TenantCatalog implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('TenantCatalog');
  private tenants = new Map<string, TenantRecord>();
  private listener?: Client;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly refreshing = new Map<string, { again: boolean }>();
  /** Whether LISTEN was seen to deliver at start (false: the short re-read interval is in use). */
  listenDelivers = true;
  /** How long the start-up probe waits for its own notification. */
  listenProbeMillis = 2_000;
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
    this.listenDelivers = await this.probe();
    const every = this.listenDelivers ? this.options.catalogRefreshMillis : this.options.catalogFallbackRefreshMillis;
    if (!this.listenDelivers) {
      this.logger.error(
        `LISTEN ${CHANNEL} does not deliver notifications (its own probe did not arrive within ${this.listenProbeMillis} ms): ` +
          `the direct URL (the directUrl option, else databaseUrl) likely points at a transaction pooler such as PgBouncer. ` +
          `Point it at PostgreSQL itself. Until then the catalog is re-read every ${every} ms; moves stay safe (the database fences them).`,
      );
    }
    this.timer = setInterval(() => void this.reload().catch((e) => this.warn(`catalog re-read failed: ${errorMessage(e)}`)), every);
    this.timer.unref();
  }

  /**
   * NOTIFYs the channel with a probe from another connection (the owner pool) and waits for it to
   * come back on the listener. Sent from the listener's own connection, a transaction pooler would
   * run it on the very server session that LISTENs and hand the notification back: a false success.
   */
  private async probe(): Promise<boolean> {
    const listener = this.listener;
    if (!listener) return false;
    const payload = `${PROBE_PREFIX}${Math.random().toString(36).slice(2)}`;
    let onMessage: ((msg: { channel: string; payload?: string }) => void) | undefined;
    const heard = new Promise<boolean>((ok) => {
      const timer = setTimeout(() => ok(false), this.listenProbeMillis);
      onMessage = (msg) => {
        if (msg.channel === CHANNEL && msg.payload === payload) {
          clearTimeout(timer);
          ok(true);
        }
      };
      listener.on('notification', onMessage);
    });
    try {
      const ds = await this.owner.controlDataSource();
      await ds.query(`SELECT pg_notify($1, $2)`, [CHANNEL, payload]);
      return await heard;
    } finally {
      listener.off('notification', onMessage!);
    }
  }

  /**
   * Re-reads one tenant's row soon: at most one read in flight per id, and one more after it when
   * asked again meanwhile (so a flood of notifications costs a bounded number of reads).
   */
  refreshSoon(id: string): void {
    if (this.stopped || !isValidTenantId(id)) return;
    const running = this.refreshing.get(id);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.refreshing.set(id, state);
    const run = (): void => {
      state.again = false;
      void this.refresh(id)
        .catch((e) => this.warn(`catalog refresh failed: ${errorMessage(e)}`))
        .finally(() => {
          if (state.again && !this.stopped) run();
          else this.refreshing.delete(id);
        });
    };
    run();
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
    await ds.query(`INSERT INTO ${this.table} (id, name, tier, strategy, server) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, [
      tenant.id,
      tenant.name,
      tenant.tier,
      tenant.strategy,
      tenant.server,
    ]);
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

  /**
   * Records a full export of the tenant: now, and `snapshot` (the export transaction's
   * `pg_current_snapshot()` on the tenant's server, as text `xmin:xmax:xip,...`; null when it
   * cannot be compared later).
   */
  async markExported(id: string, snapshot: string | null): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`UPDATE ${this.table} SET exported_at = now(), exported_snapshot = $2::pg_snapshot, updated_at = now() WHERE id = $1`, [
      id,
      snapshot,
    ]);
    await this.refresh(id);
  }

  /**
   * Removes a tenant from the catalog (its data must be gone already), with its usage ledger rows
   * in the same statement: nothing of the tenant stays (the ledger then writes no more of it).
   */
  async remove(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const usage = `${quoteIdent(this.naming.controlSchema)}.usage_minutes`;
    await ds.query(`WITH usage AS (DELETE FROM ${usage} WHERE tenant_id = $1) DELETE FROM ${this.table} WHERE id = $1`, [id]);
    await this.refresh(id);
  }

  setStatus(id: string, status: TenantStatus): Promise<TenantRecord | undefined> {
    return this.update(id, { status });
  }

  /**
   * Compare-and-set of the status: sets `to` only while the tenant is `from` (a no-op otherwise).
   * Resolves to the row as it is afterwards (undefined when the tenant is gone).
   */
  async transition(id: string, from: TenantStatus, to: TenantStatus): Promise<TenantRecord | undefined> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`UPDATE ${this.table} SET status = $3, updated_at = now() WHERE id = $1 AND status = $2`, [id, from, to]);
    return this.refresh(id);
  }

  /**
   * Serves the tenant from `place` from now on, `active`, with `place.tier` when given (else its
   * tier stays): one transaction that also runs `also` (the move journal's switch), so both commit
   * or neither does. Every instance hears it through NOTIFY; this one re-reads the row at once.
   */
  async switchPlace(
    id: string,
    place: Pick<TenantRecord, 'strategy' | 'server'> & { tier?: string },
    also?: (m: EntityManager) => Promise<void>,
  ): Promise<TenantRecord | undefined> {
    const ds = await this.owner.controlDataSource();
    await ds.transaction(async (m) => {
      await m.query(
        `UPDATE ${this.table} SET strategy = $2, server = $3, tier = COALESCE($4, tier), status = 'active', exported_snapshot = NULL, updated_at = now() WHERE id = $1`,
        [id, place.strategy, place.server, place.tier ?? null],
      );
      await also?.(m);
    });
    return this.refresh(id);
  }

  /**
   * Re-reads one tenant (or forgets it when gone); resolves to the row read. Two reads of one
   * tenant may land out of order (a notification's and a change's own, on two connections): a row
   * older than the one held (by `updated_at`, which every change sets) does not replace it.
   */
  async refresh(id: string): Promise<TenantRecord | undefined> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT ${COLUMNS} FROM ${this.table} WHERE id = $1`, [id]);
    const held = this.tenants.get(id);
    if (!row) this.tenants.delete(id);
    else if (!held || new Date(row.updatedAt).getTime() >= new Date(held.updatedAt).getTime()) this.tenants.set(id, row);
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
    const client = new Client({ connectionString: this.options.directUrl, application_name: 'nest-tenancy:catalog' });
    client.on('notification', (msg) => {
      // A hint only: a valid tenant id has its row re-read; anything else (a probe, garbage) is ignored.
      if (msg.channel === CHANNEL && msg.payload) this.refreshSoon(msg.payload);
    });
    client.on('error', (err) => {
      void client.end().catch(() => undefined);
      if (this.listener === client) this.listener = undefined;
      // Said a second later, and only if the service is not stopping by then: Ctrl-C in a terminal
      // signals the database too (an embedded one), which may end this connection first.
      setTimeout(() => {
        this.warn(`catalog listener lost its connection (${errorMessage(err)}); reconnecting`);
        void this.reconnect();
      }, 1_000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    if (this.stopped || this.listener) return;
    try {
      await this.listen();
      await this.reload();
    } catch (err) {
      this.warn(`catalog listener reconnect failed (${errorMessage(err)}); retrying`);
      setTimeout(() => void this.reconnect(), 1_000).unref();
    }
  }

  /** A fault while running; once shutdown has begun, connections ending are expected, not faults. */
  private warn(message: string): void {
    if (!this.stopped) this.logger.warn(message);
  }

  /** Runs before any provider closes its connections (onApplicationShutdown), so nothing after it is a fault. */
  beforeApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }
}
