import { TenantPoolExhaustedError } from '../errors/tenancy.errors';

/** Gives back a permit taken with `ConnectionBudget.take`; calling it twice is harmless. */
export type ConnectionPermit = () => void;

interface Waiter {
  tenantId: string;
  ceiling: number;
  grant(permit: ConnectionPermit): void;
  timer: NodeJS.Timeout;
}

interface ServerState {
  busy: number;
  perTenant: Map<string, number>;
  /** Waiting tenants in round-robin order (a tenant served goes to the end); FIFO within one. */
  queues: Map<string, Waiter[]>;
}

/**
 * The connection budget of each database server: at most `budget` units of work hold a connection
 * of that server at once, and one tenant at most its pool's `max` (a ceiling, never a reservation).
 * A unit takes its permit when its first query needs a connection and gives it back when it ends.
 * When the budget is full, tenants wait their turn: a freed permit goes to the next waiting tenant
 * in round-robin order, so one busy tenant cannot starve the others; within a tenant, first come
 * first served. A wait longer than `waitMillis` fails with `TenantPoolExhaustedError` (503 with
 * Retry-After), for that waiter only.
 */
export class ConnectionBudget {
  private readonly servers = new Map<string, ServerState>();

  constructor(
    private readonly budget: number,
    private readonly waitMillis: number,
  ) {}

  /**
   * Resolves with a permit once `tenantId` may hold one more connection of `server`.
   * @throws TenantPoolExhaustedError after `waitMillis` without a free permit.
   */
  take(server: string, tenantId: string, ceiling: number): Promise<ConnectionPermit> {
    const state = this.state(server);
    if (!state.queues.has(tenantId) && this.fits(state, tenantId, ceiling)) return Promise.resolve(this.grant(server, state, tenantId));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        tenantId,
        ceiling,
        grant: resolve,
        timer: setTimeout(() => {
          this.dequeue(state, waiter);
          const atCeiling = (state.perTenant.get(tenantId) ?? 0) >= ceiling;
          reject(new TenantPoolExhaustedError(server, atCeiling ? { id: tenantId, max: ceiling } : undefined));
        }, this.waitMillis),
      };
      const queue = state.queues.get(tenantId);
      if (queue) queue.push(waiter);
      else state.queues.set(tenantId, [waiter]);
    });
  }

  /** Permits held on `server` now (all tenants, or one). */
  busy(server: string, tenantId?: string): number {
    const state = this.servers.get(server);
    if (!state) return 0;
    return tenantId === undefined ? state.busy : (state.perTenant.get(tenantId) ?? 0);
  }

  /** Tenants waiting for a permit of `server`. */
  waiting(server: string): number {
    let n = 0;
    for (const q of this.servers.get(server)?.queues.values() ?? []) n += q.length;
    return n;
  }

  private state(server: string): ServerState {
    let state = this.servers.get(server);
    if (!state) this.servers.set(server, (state = { busy: 0, perTenant: new Map(), queues: new Map() }));
    return state;
  }

  private fits(state: ServerState, tenantId: string, ceiling: number): boolean {
    return state.busy < this.budget && (state.perTenant.get(tenantId) ?? 0) < ceiling;
  }

  private grant(server: string, state: ServerState, tenantId: string): ConnectionPermit {
    state.busy++;
    state.perTenant.set(tenantId, (state.perTenant.get(tenantId) ?? 0) + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      state.busy--;
      const left = (state.perTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) state.perTenant.set(tenantId, left);
      else state.perTenant.delete(tenantId);
      this.dispatch(server, state);
    };
  }

  /** Hands free permits to waiting tenants, one per tenant per round. */
  private dispatch(server: string, state: ServerState): void {
    let progress = true;
    while (progress && state.busy < this.budget) {
      progress = false;
      for (const [tenantId, queue] of [...state.queues]) {
        if (state.busy >= this.budget) break;
        const head = queue[0];
        if (!this.fits(state, tenantId, head.ceiling)) continue;
        queue.shift();
        clearTimeout(head.timer);
        // Served: to the back of the round.
        state.queues.delete(tenantId);
        if (queue.length) state.queues.set(tenantId, queue);
        head.grant(this.grant(server, state, tenantId));
        progress = true;
      }
    }
  }

  private dequeue(state: ServerState, waiter: Waiter): void {
    const queue = state.queues.get(waiter.tenantId);
    if (!queue) return;
    const i = queue.indexOf(waiter);
    if (i !== -1) queue.splice(i, 1);
    if (!queue.length) state.queues.delete(waiter.tenantId);
  }
}
