import { TenantStateError } from '../../errors/tenancy.errors';
import type { MoveSide } from './move-side';

/**
 * Waits until every transaction `role` had open in the side's database has ended (a barrier, as
 * CREATE INDEX CONCURRENTLY waits for older transactions: each transaction holds the lock on its
 * own virtual transaction id until it ends, and pg_locks shows it to any role). Polls every 10 ms.
 * @throws TenantStateError when some are still open after `millis` (the move is then abandoned).
 */
export async function waitForOpenTransactions(side: MoveSide, role: string, millis: number): Promise<void> {
  const { rows } = await side.client.query(
    `SELECT COALESCE(array_agg(l.virtualxid), '{}') AS open FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid() AND a.usename = $1 AND a.datname = current_database()`,
    [role],
  );
  const open: string[] = rows[0].open;
  const deadline = Date.now() + millis;
  while (open.length) {
    const { rows: left } = await side.client.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1::text[])`,
      [open],
    );
    if (left[0].n === 0) return;
    if (Date.now() > deadline) {
      throw new TenantStateError(
        `${left[0].n} transactions of the service stayed open through the freeze; the move was abandoned, retry it.`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
