// Follows moves to their end: polls GET /admin/tenants/:id every second while a move runs (its
// journal row shows the phase and the rows copied so far) and remembers how each one ended.

import { call, ApiError } from './api.js';

const POLL_MS = 1000;
const START_GRACE_MS = 10_000;

/** Rows copied so far over every table of a journal row's progress. */
export function rowsCopied(move) {
  const tables = move?.progress?.tables ?? {};
  return Object.values(tables).reduce((sum, t) => sum + (t.copied ?? 0) + (t.caughtUp ?? 0), 0);
}

export class MoveTracker {
  /**
   * `onChange(entry)` is called whenever a followed move changes (`entry.done` once it has ended); `onRefused(err)` when the API refuses
   * the token (the console signs out).
   */
  constructor(onChange, onRefused) {
    this.onChange = onChange;
    this.onRefused = onRefused;
    /** Tenant id -> { id, from, to, phase, copied, total, error, done, ok, startedAt, endedAt, note }. */
    this.moves = new Map();
  }

  /** The followed move of the tenant (running or ended in this tab), or undefined. */
  get(id) {
    return this.moves.get(id);
  }

  /** Starts following the tenant's move unless it is followed already. */
  follow(id, from, to) {
    const known = this.moves.get(id);
    if (known && !known.done) return;
    const entry = { id, from, to, phase: 'starting', copied: 0, total: null, error: null, done: false, ok: false, startedAt: Date.now() };
    this.moves.set(id, entry);
    this.onChange(entry);
    void this.poll(entry);
  }

  async poll(entry) {
    while (!entry.done) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        this.update(entry, await call('GET', `/admin/tenants/${encodeURIComponent(entry.id)}`));
        entry.note = null;
      } catch (err) {
        if (err instanceof ApiError && err.refused) {
          entry.done = true;
          this.onRefused(err);
          return;
        }
        if (err instanceof ApiError && err.status === 404) this.finish(entry, false, 'The tenant is gone.');
        // Anything else (the service restarting, a 503): say so and keep polling.
        else entry.note = err.message;
      }
      this.onChange(entry);
    }
  }

  update(entry, details) {
    const move = details.move;
    entry.total = details.rows ? Object.values(details.rows).reduce((a, b) => a + b, 0) : entry.total;
    if (move) {
      entry.from = move.sourceStrategy;
      entry.to = move.targetStrategy;
      entry.phase = move.phase;
      entry.copied = rowsCopied(move);
      if (move.phase === 'failed') this.finish(entry, false, move.error ?? 'The move failed.');
      return;
    }
    // No journal row: the move has ended (a finished move removes its row).
    if (details.status === 'moving') return;
    // Started but not yet journaled: give the mover a moment to write its first row.
    if (entry.phase === 'starting' && details.strategy !== entry.to && Date.now() - entry.startedAt < START_GRACE_MS) return;
    if (!entry.to || details.strategy === entry.to) this.finish(entry, true, null);
    else this.finish(entry, false, `The tenant is still served by the ${details.strategy} model: the move did not complete.`);
  }

  finish(entry, ok, error) {
    entry.done = true;
    entry.ok = ok;
    entry.error = error;
    entry.phase = ok ? 'done' : 'failed';
    entry.endedAt = Date.now();
  }
}
