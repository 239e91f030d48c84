import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import type { TenantRecord } from '../core/tenant-record';
import { TenantActivity, type TenantActivitySample } from '../context/tenant-activity';

/** The longest window `RecentLoad` answers for, in seconds. */
export const MAX_WINDOW_SECONDS = 3_600;
const SLOT_MILLIS = 5_000;
const MAX_SLOTS = (MAX_WINDOW_SECONDS * 1000) / SLOT_MILLIS;
/** Latencies kept per tenant for its p99 (the most recent ones). */
const LATENCIES = 1_024;

/** A tenant's load over a recent window of this instance. */
export interface WindowLoad {
  tenant: TenantRecord;
  /** Units of work ended in the window (HTTP requests and `TenancyService.run` calls). */
  requests: number;
  /** Of those, 5xx answers and runs that threw. */
  errors: number;
  /** Their database time, in milliseconds. */
  databaseMs: number;
  /** Their rows written. */
  rowsWritten: number;
  /** 99th percentile of their durations in milliseconds (nearest rank, of at most the 1,024 latest); 0 when none. */
  p99Ms: number;
}

interface Series {
  tenant: TenantRecord;
  /** Slot numbers (time / 5 s), oldest first, and the sums of each: requests, errors, database ms, rows. */
  slots: number[];
  sums: number[];
  /** A ring of the latest durations (ms) and when each ended (ms since the epoch). */
  millis: Float32Array;
  at: Float64Array;
  next: number;
  count: number;
}

/**
 * Every tenant's load over the last hour on this instance, in memory, in 5-second slots, for the
 * live figures of `GET /admin/tenants/activity` and the noisy-neighbour detection: per tenant the
 * slots it was active in (at most 720) and its latest 1,024 durations. Recording (a listener of
 * `TenantActivity`) costs a map lookup, a few additions and a ring write; a tenant idle for an hour
 * is forgotten at the next read. Off with `usage.record` false.
 */
@Injectable()
export class RecentLoad implements OnModuleInit, OnModuleDestroy {
  private readonly series = new Map<string, Series>();
  private unsubscribe?: () => void;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly activity: TenantActivity,
  ) {}

  onModuleInit(): void {
    if (this.options.usage.record) this.unsubscribe = this.activity.subscribe((s) => this.record(s));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Adds one ended unit of work (what the `TenantActivity` listener calls). */
  record(sample: TenantActivitySample, now = Date.now()): void {
    const slot = Math.floor(now / SLOT_MILLIS);
    let s = this.series.get(sample.tenant.id);
    if (!s) {
      s = { tenant: sample.tenant, slots: [], sums: [], millis: new Float32Array(16), at: new Float64Array(16), next: 0, count: 0 };
      this.series.set(sample.tenant.id, s);
    }
    s.tenant = sample.tenant;
    let last = s.slots.length - 1;
    if (last < 0 || s.slots[last] !== slot) {
      s.slots.push(slot);
      s.sums.push(0, 0, 0, 0);
      if (s.slots.length > MAX_SLOTS) {
        s.slots.shift();
        s.sums.splice(0, 4);
      }
      last = s.slots.length - 1;
    }
    const at = last * 4;
    s.sums[at]++;
    if (sample.failed) s.sums[at + 1]++;
    s.sums[at + 2] += sample.databaseMillis;
    s.sums[at + 3] += sample.rowsWritten ?? 0;
    this.addLatency(s, sample.millis, now);
  }

  private addLatency(s: Series, millis: number, now: number): void {
    if (s.count === s.millis.length && s.millis.length < LATENCIES) {
      // Grow (the ring is in order while it has never wrapped).
      const size = Math.min(LATENCIES, s.millis.length * 2);
      const m = new Float32Array(size);
      const a = new Float64Array(size);
      m.set(s.millis);
      a.set(s.at);
      s.millis = m;
      s.at = a;
      s.next = s.count;
    }
    s.millis[s.next] = millis;
    s.at[s.next] = now;
    s.next = (s.next + 1) % s.millis.length;
    s.count = Math.min(s.count + 1, s.millis.length);
  }

  /**
   * Each tenant with activity in the last `seconds` (1 to 3,600; the window is the 5-second slots
   * that began in it, so it covers `seconds` rounded up to 5 s), busiest first by requests.
   */
  loads(seconds: number, now = Date.now()): WindowLoad[] {
    const slotNow = Math.floor(now / SLOT_MILLIS);
    const first = slotNow - Math.ceil((Math.min(seconds, MAX_WINDOW_SECONDS) * 1000) / SLOT_MILLIS) + 1;
    const since = now - seconds * 1000;
    const out: WindowLoad[] = [];
    for (const [id, s] of this.series) {
      if (s.slots[s.slots.length - 1] <= slotNow - MAX_SLOTS) {
        this.series.delete(id);
        continue;
      }
      const load: WindowLoad = { tenant: s.tenant, requests: 0, errors: 0, databaseMs: 0, rowsWritten: 0, p99Ms: 0 };
      for (let i = s.slots.length - 1; i >= 0 && s.slots[i] >= first; i--) {
        load.requests += s.sums[i * 4];
        load.errors += s.sums[i * 4 + 1];
        load.databaseMs += s.sums[i * 4 + 2];
        load.rowsWritten += s.sums[i * 4 + 3];
      }
      if (load.requests === 0) continue;
      load.p99Ms = percentile99(s, since);
      out.push(load);
    }
    return out.sort((a, b) => b.requests - a.requests || b.databaseMs - a.databaseMs);
  }

  /** Forgets everything of `tenantId` (a deleted tenant). */
  forget(tenantId: string): void {
    this.series.delete(tenantId);
  }
}

/** The nearest-rank 99th percentile of the durations that ended since `since`. */
function percentile99(s: Series, since: number): number {
  const values: number[] = [];
  for (let i = 0; i < s.count; i++) if (s.at[i] >= since) values.push(s.millis[i]);
  if (!values.length) return 0;
  values.sort((a, b) => a - b);
  return Math.round(values[Math.ceil(0.99 * values.length) - 1] * 100) / 100;
}
