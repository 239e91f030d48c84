import { Injectable } from '@nestjs/common';
import type { TenantRecord } from '../core/tenant-record';
import { fieldsOf, type TenantLogFields } from './tenant-log-fields';

/** One ended unit of work: an HTTP request of a tenant, or a `TenancyService.run`. */
export interface TenantActivitySample {
  tenant: TenantRecord;
  /** `request` (HTTP) or `run` (`TenancyService.run`: a job, a CLI command). */
  kind: 'request' | 'run';
  /** HTTP status of a request (0 when the client went away before an answer); undefined for a run. */
  status?: number;
  /** Whether it failed: a 5xx answer, or a run that threw. */
  failed: boolean;
  /** Milliseconds from the tenant's resolution (or the run's start) to the answer (or the run's end). */
  millis: number;
  /** Milliseconds on the database (see `TenantRequestInfo.databaseMillis`). */
  databaseMillis: number;
  /** Rows its INSERT, UPDATE, DELETE and MERGE statements wrote (see `UnitOfWork.rowsWritten`). Default 0. */
  rowsWritten?: number;
}

/** A tenant's load over the recent window (see `TenantActivity.recent`). */
export interface TenantLoad extends TenantLogFields {
  /** HTTP requests that ended in the window. */
  requests: number;
  /** `TenancyService.run` calls that ended in the window. */
  runs: number;
  /** Requests answered 5xx and runs that threw. */
  errors: number;
  /** Database milliseconds of those requests and runs. */
  databaseMillis: number;
}

/** The window is SLOTS slots of SLOT_MILLIS each: a slot is reused once the window has passed it. */
const SLOT_MILLIS = 10_000;
const SLOTS = 6;
const FIELDS = 4; // requests, runs, errors, database millis

interface Entry {
  record: TenantRecord;
  /** The slot number (time / SLOT_MILLIS) each slot holds, or -1. */
  stamps: number[];
  sums: Float64Array;
}

/**
 * Every tenant's recent load, in memory, for this instance: requests, runs, errors and database
 * time over the last `windowSeconds` (60 s, in 10-second slots, so a figure covers 50 to 60 s).
 * Recording costs a map lookup and four additions; tenants without activity in the window are
 * forgotten, so memory follows the active tenants. Metrics (the top tenants by load), usage and
 * noisy-neighbour reports read it; `subscribe` sees every sample as it is recorded.
 */
@Injectable()
export class TenantActivity {
  /** The window `recent` covers, in seconds. */
  readonly windowSeconds = (SLOT_MILLIS * SLOTS) / 1000;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(sample: TenantActivitySample) => void>();

  /** Records an ended unit of work. Never throws (a listener's error is swallowed). */
  record(sample: TenantActivitySample): void {
    const slot = Math.floor(Date.now() / SLOT_MILLIS);
    let entry = this.entries.get(sample.tenant.id);
    if (!entry)
      this.entries.set(
        sample.tenant.id,
        (entry = { record: sample.tenant, stamps: new Array(SLOTS).fill(-1), sums: new Float64Array(SLOTS * FIELDS) }),
      );
    entry.record = sample.tenant;
    const i = slot % SLOTS;
    const at = i * FIELDS;
    if (entry.stamps[i] !== slot) {
      entry.stamps[i] = slot;
      entry.sums.fill(0, at, at + FIELDS);
    }
    entry.sums[at + (sample.kind === 'request' ? 0 : 1)]++;
    if (sample.failed) entry.sums[at + 2]++;
    entry.sums[at + 3] += sample.databaseMillis;
    for (const listener of this.listeners) {
      try {
        listener(sample);
      } catch {
        // A listener's failure is its own: recording goes on.
      }
    }
  }

  /**
   * Calls `listener` with every sample from now on (synchronously, on the request's path: keep it
   * cheap, batch anything slow). Returns the function that unsubscribes it.
   */
  subscribe(listener: (sample: TenantActivitySample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Each tenant with activity in the window, busiest first: by requests and runs, then database
   * time. Forgets the tenants that had none. O(tenants recorded in the window).
   */
  recent(): TenantLoad[] {
    const slot = Math.floor(Date.now() / SLOT_MILLIS);
    const loads: TenantLoad[] = [];
    for (const [id, entry] of this.entries) {
      const load = { ...fieldsOf(entry.record), requests: 0, runs: 0, errors: 0, databaseMillis: 0 };
      let live = false;
      for (let i = 0; i < SLOTS; i++) {
        if (entry.stamps[i] <= slot - SLOTS) continue;
        live = true;
        const at = i * FIELDS;
        load.requests += entry.sums[at];
        load.runs += entry.sums[at + 1];
        load.errors += entry.sums[at + 2];
        load.databaseMillis += entry.sums[at + 3];
      }
      if (!live) this.entries.delete(id);
      else loads.push(load);
    }
    return loads.sort((a, b) => b.requests + b.runs - (a.requests + a.runs) || b.databaseMillis - a.databaseMillis);
  }
}
