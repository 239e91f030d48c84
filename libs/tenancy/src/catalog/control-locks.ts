import { Injectable } from '@nestjs/common';
import { OwnerConnections } from '../connections/owner-connections';
import { pgErrorCode } from '../errors/pg-error-code';
import { TenantNaming } from './tenant-naming';
import { quoteIdent } from '../core/sql';

/** SQLSTATE lock_not_available: what `FOR UPDATE NOWAIT` raises when another session holds the row. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Lifecycle locks: a row of the control schema's `locks` table, locked FOR UPDATE in a transaction
 * held open on one owner connection for as long as the work runs. Only the owner can read that
 * schema, so the runtime role can neither take such a lock nor hold one up (an advisory lock is
 * open to every role that can connect). The lock vanishes with its session, so a killed holder
 * frees it, and a free lock tells the other instances that nobody is doing that work any more.
 */
@Injectable()
export class ControlLocks {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
  ) {}

  /**
   * Runs `fn` while holding the lock `key`. With `ifBusy` the lock is only tried: when another
   * session holds it, `fn` does not run and `ifBusy()` is returned (or thrown). Without it, waits.
   */
  async withLock<T, B = never>(key: string, fn: () => Promise<T>, ifBusy?: () => B): Promise<T | B> {
    const ds = await this.owner.controlDataSource();
    const table = `${quoteIdent(this.naming.controlSchema)}.locks`;
    // The row is inserted on its own first: an INSERT inside the locking transaction would make a
    // second session's INSERT wait for it instead of failing fast with NOWAIT.
    await ds.query(`INSERT INTO ${table} (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`, [key]);
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        await runner.query(`SELECT 1 FROM ${table} WHERE key = $1 FOR UPDATE${ifBusy ? ' NOWAIT' : ''}`, [key]);
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined);
        if (ifBusy && pgErrorCode(err) === LOCK_NOT_AVAILABLE) return ifBusy();
        throw err;
      }
      try {
        return await fn();
      } finally {
        if (runner.isTransactionActive) await runner.commitTransaction().catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }
}
