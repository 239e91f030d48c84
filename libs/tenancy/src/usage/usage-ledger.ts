import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { type TenantLifecycleEvent, TenantLifecycleHooks, type TenantLifecycleListener } from '../catalog/tenant-lifecycle-hooks';
import { TenantNaming } from '../catalog/tenant-naming';
import { clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../connections/owner-connections';
import { quoteIdent } from '../core/sql';
import { errorMessage } from '../core/error-message';
import { TenantActivity, type TenantActivitySample } from '../context/tenant-activity';
import type { TenantRecord } from '../core/tenant-record';
import { TenantAdmission } from '../data-source/tenant-admission';

/** What the ledger counts, per tenant and minute (and summed over any period). */
export interface UsageTotals {
  /** Units of work that ended: HTTP requests and `TenancyService.run` calls. */
  requests: number;
  /** Of those, requests answered 5xx and runs that threw. */
  errors: number;
  /** Their database time, in milliseconds (see `UnitOfWork.databaseMillis`). */
  databaseMs: number;
  /** Rows their INSERT, UPDATE, DELETE and MERGE statements wrote. */
  rowsWritten: number;
}

/** One point of a tenant's usage over time: the minute or hour starting at `at`. */
export interface UsagePoint extends UsageTotals {
  at: Date;
}

interface Pending extends UsageTotals {
  tenantId: string;
  /** When the tenant the counts belong to was created (ms), to tell it from one provisioned again under its id. */
  createdAt: number | undefined;
  minute: number;
}

/** When `tenant` was created, in ms since the epoch (undefined when not known). */
const createdAtOf = (tenant: Pick<TenantRecord, 'createdAt'>): number | undefined =>
  tenant.createdAt === undefined || tenant.createdAt === null ? undefined : new Date(tenant.createdAt).getTime();

const MINUTE_MILLIS = 60_000;
/** A failed flush is reported at most once in this long, in milliseconds. */
const WARNING_MILLIS = 60_000;

const zero = (): UsageTotals => ({ requests: 0, errors: 0, databaseMs: 0, rowsWritten: 0 });

/**
 * The usage ledger: `usage_minutes` in the control schema, one row per tenant and minute, summed
 * over every instance. Recording costs the request path one map lookup and four additions (a
 * listener of `TenantActivity`): counts are kept in this process's memory and written every
 * `usage.flushMillis` (default 10 s) with ONE statement, a multi-row upsert that adds them to the
 * rows already there (`INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE SET n = n +
 * EXCLUDED.n`), outside any request's transaction, on an owner connection. A flush that fails
 * (the control database away) keeps its counts for the next one and only logs a warning (at most
 * once a minute); a request is never failed or slowed by it. At shutdown, once the units in
 * flight have ended, the last counts are written. With `usage.record` false nothing is recorded.
 *
 * Figures are eventually consistent: a report sees another instance's counts after its next flush
 * (this instance's own are flushed before a report, see `flush`). A deleted tenant's rows go with
 * it (`TenantCatalog.remove`), and so do the counts this process still holds of it (`forget`): in
 * the instance that deletes it through the lifecycle hooks (`TenantLifecycleHooks`, before it
 * leaves the catalog), in the others when the catalog says it is gone or `deleting`
 * (`TenantCatalog.events`). A tenant provisioned again under the same id starts from zero, and
 * counts of a tenant no longer in the catalog are not written.
 */
@Injectable()
export class UsageLedger implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown, TenantLifecycleListener {
  readonly name = 'usage ledger';
  private readonly logger = new Logger('UsageLedger');
  private pending = new Map<string, Pending>();
  private flushing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private warnedAt = -Infinity;
  /** Tenants forgotten while a flush was writing: its batch does not come back for them if it fails. */
  private forgottenInFlush = new Set<string>();
  private unregister?: () => void;
  private readonly onCatalogChange = (id: string) => this.catalogChanged(id);

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly activity: TenantActivity,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly admission: TenantAdmission,
    private readonly catalog: TenantCatalog,
    private readonly hooks: TenantLifecycleHooks,
  ) {}

  onModuleInit(): void {
    if (!this.options.usage.record) return;
    this.unsubscribe = this.activity.subscribe((s) => this.record(s));
    this.unregister = this.hooks.register(this);
    this.catalog.events.on('change', this.onCatalogChange);
    this.timer = setInterval(() => void this.flush(), this.options.usage.flushMillis);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.unregister?.();
    this.unregister = undefined;
    this.catalog.events.off('change', this.onCatalogChange);
  }

  /** The lifecycle's call (see `TenantLifecycleHooks`): a deleted tenant's counts not yet written go. */
  onTenantEvent(event: TenantLifecycleEvent): void {
    if (event.kind === 'deleted') this.forget(event.tenantId);
  }

  /**
   * Drops the counts of `tenantId` not yet written (a deleted tenant), so that they are not added
   * to a tenant provisioned again under its id. Counts a flush is writing at that moment are
   * written (the statement writes only tenants in the catalog) but never kept for a retry.
   */
  forget(tenantId: string): void {
    for (const [key, p] of this.pending) if (p.tenantId === tenantId) this.pending.delete(key);
    if (this.flushing) this.forgottenInFlush.add(tenantId);
  }

  /**
   * A catalog change (`*`: the whole catalog re-read): counts of a tenant gone, being deleted, or
   * provisioned again since they were recorded (another creation time) are forgotten.
   */
  private catalogChanged(id: string): void {
    const ids = id === '*' ? new Set([...this.pending.values()].map((p) => p.tenantId)) : [id];
    for (const tenantId of ids) {
      const record = this.catalog.get(tenantId);
      if (!record || record.status === 'deleting') {
        this.forget(tenantId);
        continue;
      }
      const born = createdAtOf(record);
      for (const [key, p] of this.pending) {
        if (p.tenantId === tenantId && p.createdAt !== undefined && born !== undefined && p.createdAt !== born) this.pending.delete(key);
      }
    }
  }

  /** Adds one ended unit of work to its tenant's current minute (in memory until the next flush). */
  record(sample: TenantActivitySample): void {
    const minute = Math.floor(Date.now() / MINUTE_MILLIS) * MINUTE_MILLIS;
    const key = `${sample.tenant.id} ${minute}`;
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { tenantId: sample.tenant.id, createdAt: createdAtOf(sample.tenant), minute, ...zero() }));
    p.requests++;
    if (sample.failed) p.errors++;
    p.databaseMs += sample.databaseMillis;
    p.rowsWritten += sample.rowsWritten ?? 0;
  }

  /** Rows (tenant and minute) waiting for the next flush. */
  get pendingRows(): number {
    return this.pending.size;
  }

  /**
   * Writes the counts kept in memory now (one statement); one flush at a time (a call during a
   * flush waits for it, then flushes what arrived meanwhile). Never throws: counts that could not
   * be written stay for the next flush, and the reason is logged.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write([...batch.values()])
      .catch((err: unknown) => {
        // Back into the next batch, added to whatever arrived meanwhile.
        for (const [key, p] of batch) {
          if (this.forgottenInFlush.has(p.tenantId)) continue;
          const now = this.pending.get(key);
          if (!now) this.pending.set(key, p);
          else {
            now.requests += p.requests;
            now.errors += p.errors;
            now.databaseMs += p.databaseMs;
            now.rowsWritten += p.rowsWritten;
          }
        }
        if (Date.now() - this.warnedAt >= WARNING_MILLIS) {
          this.warnedAt = Date.now();
          this.logger.warn(`Usage could not be written to the control database (${errorMessage(err)}): kept for the next try.`);
        }
      })
      .finally(() => {
        this.flushing = undefined;
        this.forgottenInFlush.clear();
      });
    await this.flushing;
  }

  private async write(rows: Pending[]): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${this.table} AS u (tenant_id, minute, requests, errors, database_ms, rows_written)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::float8[], $6::bigint[])
                  AS x (tenant_id, minute, requests, errors, database_ms, rows_written)
        WHERE EXISTS (SELECT 1 FROM ${quoteIdent(this.naming.controlSchema)}.tenants t WHERE t.id = x.tenant_id)
       ON CONFLICT (tenant_id, minute) DO UPDATE SET
         requests = u.requests + EXCLUDED.requests,
         errors = u.errors + EXCLUDED.errors,
         database_ms = u.database_ms + EXCLUDED.database_ms,
         rows_written = u.rows_written + EXCLUDED.rows_written`,
      [
        rows.map((r) => r.tenantId),
        rows.map((r) => new Date(r.minute).toISOString()),
        rows.map((r) => r.requests),
        rows.map((r) => r.errors),
        rows.map((r) => r.databaseMs),
        rows.map((r) => r.rowsWritten),
      ],
    );
  }

  /** Each tenant's totals over the minutes in [from, to) (tenants without a row are left out). */
  async totals(from: Date, to: Date): Promise<Map<string, UsageTotals>> {
    await this.flush();
    const ds = await this.owner.controlDataSource();
    const rows: RawTotals[] = await ds.query(
      `SELECT tenant_id, ${SUMS} FROM ${this.table} WHERE minute >= $1 AND minute < $2 GROUP BY tenant_id`,
      [from.toISOString(), to.toISOString()],
    );
    return new Map(rows.map((r) => [r.tenant_id, totalsOf(r)]));
  }

  /**
   * A tenant's usage over [from, to) per `step` (`minute` or `hour`, aggregated in SQL), one point
   * for every step of the range (zeros where nothing was recorded), oldest first.
   */
  async series(tenantId: string, from: Date, to: Date, step: 'minute' | 'hour'): Promise<UsagePoint[]> {
    await this.flush();
    const ds = await this.owner.controlDataSource();
    const rows: (RawTotals & { at: Date })[] = await ds.query(
      `SELECT s.at, ${SUMS}
         FROM generate_series(date_trunc($3, $1::timestamptz, 'UTC'), $2::timestamptz - interval '1 microsecond', ('1 ' || $3)::interval) AS s (at)
         LEFT JOIN ${this.table} u
           ON u.tenant_id = $4 AND u.minute >= $1 AND u.minute < $2 AND date_trunc($3, u.minute, 'UTC') = s.at
        GROUP BY s.at ORDER BY s.at`,
      [from.toISOString(), to.toISOString(), step, tenantId],
    );
    return rows.map((r) => ({ at: new Date(r.at), ...totalsOf(r) }));
  }

  /**
   * The `top` tenants by requests over the minutes in [from, to), busiest first, each with its
   * requests per minute (`minutes.length` numbers, 0 where none), and the minutes themselves.
   */
  async recentByMinute(
    from: Date,
    to: Date,
    top: number,
  ): Promise<{ minutes: Date[]; tenants: { tenantId: string; requests: number[] }[] }> {
    await this.flush();
    const ds = await this.owner.controlDataSource();
    const start = Math.floor(from.getTime() / MINUTE_MILLIS) * MINUTE_MILLIS;
    const minutes: Date[] = [];
    for (let m = start; m < to.getTime(); m += MINUTE_MILLIS) minutes.push(new Date(m));
    const rows: { tenant_id: string; minute: Date; requests: string }[] = await ds.query(
      `WITH top AS (
         SELECT tenant_id FROM ${this.table} WHERE minute >= $1 AND minute < $2
          GROUP BY tenant_id ORDER BY sum(requests) DESC, tenant_id LIMIT $3)
       SELECT u.tenant_id, u.minute, u.requests FROM ${this.table} u JOIN top USING (tenant_id)
        WHERE u.minute >= $1 AND u.minute < $2`,
      [new Date(start).toISOString(), to.toISOString(), top],
    );
    const byTenant = new Map<string, number[]>();
    for (const r of rows) {
      let list = byTenant.get(r.tenant_id);
      if (!list) byTenant.set(r.tenant_id, (list = new Array(minutes.length).fill(0)));
      const i = Math.round((new Date(r.minute).getTime() - start) / MINUTE_MILLIS);
      if (i >= 0 && i < list.length) list[i] += Number(r.requests);
    }
    const tenants = [...byTenant].map(([tenantId, requests]) => ({ tenantId, requests }));
    const sum = (l: number[]) => l.reduce((a, b) => a + b, 0);
    tenants.sort((a, b) => sum(b.requests) - sum(a.requests) || a.tenantId.localeCompare(b.tenantId));
    return { minutes, tenants };
  }

  /** Stops recording and the flush timer (what is held stays until `flush`). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Once the units in flight have ended (their counts recorded: recording goes on until then, past
   * `onModuleDestroy`), the last flush, before the pools close.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.options.usage.record) return;
    await this.admission.whenIdle(clientQueryTimeout(this.options));
    // A unit's end is recorded just after its connection is released: let that run first.
    await new Promise((resolve) => setImmediate(resolve));
    this.stop();
    await this.flush();
  }

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.usage_minutes`;
  }
}

interface RawTotals {
  tenant_id: string;
  requests: string | null;
  errors: string | null;
  database_ms: number | null;
  rows_written: string | null;
}

const SUMS = `coalesce(sum(requests), 0)::bigint AS requests, coalesce(sum(errors), 0)::bigint AS errors,
  coalesce(sum(database_ms), 0)::float8 AS database_ms, coalesce(sum(rows_written), 0)::bigint AS rows_written`;

function totalsOf(r: RawTotals): UsageTotals {
  return {
    requests: Number(r.requests ?? 0),
    errors: Number(r.errors ?? 0),
    databaseMs: Math.round(Number(r.database_ms ?? 0) * 1000) / 1000,
    rowsWritten: Number(r.rows_written ?? 0),
  };
}
