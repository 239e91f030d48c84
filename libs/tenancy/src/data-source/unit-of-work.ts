import type { EntityManager, QueryRunner } from 'typeorm';
import type { TenantRecord } from '../core/tenant-record';
import { TenancyError, UnitOfWorkAbortedError, UnitOfWorkEndedError, UnitOfWorkNotStartedError } from '../errors/tenancy.errors';
import { ConnectionGate, type DriverClient } from './connection-gate';
import { TransactionOpener } from './transaction-opener';
import type { DataSourceLease } from '../connections/runtime-data-source';

type PatchedRunner = { -readonly [K in keyof QueryRunner]: QueryRunner[K] } & {
  transactionDepth: number;
  /** PostgresQueryRunner: the pg client once connected; replaced by the gate's guarded client. */
  databaseConnection?: unknown;
  /** PostgresQueryRunner: with an error, the pool destroys the connection instead of reusing it. */
  releasePostgresConnection?(err?: Error): Promise<void>;
};

type Client = DriverClient & { query(sql: string): Promise<{ command?: string }> };

/** What a unit of work takes when it starts, from the tenant's model and tier. */
export interface UnitOfWorkSource {
  /**
   * Takes one of the tenant's in-flight slots (and counts it against the tier's rate) and gives
   * its release, at once or once counted; throws (or rejects) when the tenant is past a limit.
   */
  enter(): (() => void) | Promise<() => void>;
  /** Leases the DataSource of the tenant's model. */
  lease(): Promise<DataSourceLease>;
}

/**
 * One transaction for one request (or one `TenancyService.run`). Opening a unit holds nothing;
 * `start()` (run by the interceptor once the request body has arrived, and by `TenancyService.run`)
 * takes one of the tenant's concurrency slots and leases its model's DataSource, still without a
 * connection. Nothing reaches the database until the first query: then a connection is taken
 * (within the server's connection budget, see `ConnectionBudget`) from the tenant's pool and the
 * transaction begins, the tenant settings are applied with `set_config(..., true)` (scoped to it)
 * and the first query runs, all in ONE round trip (see `TransactionOpener`). Every query of the
 * unit uses that connection; TypeORM's own `transaction()` calls become savepoints inside it.
 * `commit` or `rollback` ends it, and the connection always goes back to the pool.
 *
 * Once the unit ends (commit, rollback, client gone), no query of it ever reaches a connection:
 * queries already sent settle before COMMIT/ROLLBACK is sent and the connection is released; later
 * ones, through the unit's manager, its query runner (`query`, `stream`, savepoints) or the runner's
 * pg client, fail with `UnitOfWorkEndedError` before anything is sent.
 */
export class UnitOfWork {
  private runner?: PatchedRunner;
  private begun?: Promise<ConnectionGate<Client>>;
  private ending?: Promise<void>;
  private outcome?: 'committed' | 'rolled back';
  private starting?: Promise<void>;
  private lease?: DataSourceLease;
  private leaveSlot?: () => void;
  private permit?: () => void;
  private opener?: TransactionOpener;
  /** performance.now() when the first query asked for a connection, and when the unit released it. */
  private connectingAt?: number;
  private releasedAt?: number;
  private written = 0;

  constructor(
    readonly tenant: TenantRecord,
    private readonly source: UnitOfWorkSource,
    /** The tenant settings' SELECT, run right after BEGIN (see `transactionPreamble`). */
    private readonly settings: string,
    /** Runs just before a connection is taken for the transaction; throwing refuses the unit. */
    private readonly beforeBegin: () => void = () => undefined,
    /**
     * Runs when the settings found the tenant fenced at the place this unit reaches (its
     * transaction is read-only): this instance's catalog may be stale.
     */
    private readonly onFenced: () => void = () => undefined,
    /**
     * Runs when taking the connection, BEGIN or the settings failed (the place may be gone: a move
     * switched the tenant elsewhere and dropped it before this instance heard). It may throw the
     * error to give instead (a TenantMovingError once the catalog says the tenant has moved).
     */
    private readonly onBeginFailed: (err: unknown) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Milliseconds this unit has spent on the database: from its first query asking for a connection
   * (waiting for one included) to the end of its COMMIT or ROLLBACK, or until now while it runs.
   * 0 when it made no query.
   */
  get databaseMillis(): number {
    if (this.connectingAt === undefined) return 0;
    return (this.releasedAt ?? performance.now()) - this.connectingAt;
  }

  /**
   * Rows this unit's INSERT, UPDATE, DELETE and MERGE statements reported (PostgreSQL's command tag,
   * pg's `rowCount`), whether or not the transaction then committed. Queries given a callback or
   * a stream are not counted. 0 when it wrote nothing.
   */
  get rowsWritten(): number {
    return this.written;
  }

  /** True from the moment `commit` or `rollback` is called. */
  get ended(): boolean {
    return this.ending !== undefined;
  }

  get manager(): EntityManager {
    return this.queryRunner().manager;
  }

  /**
   * Takes a concurrency slot of the tenant and leases its DataSource (no connection yet). Idempotent.
   * @throws TenantBusyError (429) when the tenant already has its tier's `concurrency` units in flight.
   * @throws TenantRateLimitedError (429) when the tenant is past its tier's `rate`.
   * @throws UnitOfWorkEndedError when the unit has already ended.
   */
  start(): Promise<void> {
    if (this.ended) return Promise.reject(this.endedError());
    this.starting ??= (async () => {
      const entered = this.source.enter();
      this.leaveSlot = typeof entered === 'function' ? entered : await entered;
      const lease = await this.source.lease();
      // Ended while the lease was being taken (the client went away): give it straight back.
      if (this.ended) {
        lease.release();
        throw this.endedError();
      }
      this.lease = lease;
    })();
    return this.starting;
  }

  /**
   * The unit's query runner. Throws `UnitOfWorkEndedError` once the unit has ended, and
   * `UnitOfWorkNotStartedError` before `start()` has resolved.
   */
  queryRunner(): QueryRunner {
    if (this.ended) throw this.endedError();
    if (!this.lease) throw new UnitOfWorkNotStartedError(this.tenant.id);
    if (!this.runner) this.runner = this.patch(this.lease.dataSource.createQueryRunner() as unknown as PatchedRunner);
    return this.runner as unknown as QueryRunner;
  }

  /**
   * Commits. Throws `UnitOfWorkAbortedError` when PostgreSQL rolled the transaction back instead
   * (a failed statement was caught and not rethrown), and `UnitOfWorkEndedError` when the unit was
   * already rolled back (for example because the client went away): nothing of it was saved.
   */
  async commit(): Promise<void> {
    if (this.ending) {
      await this.ending.catch(() => undefined);
      if (this.outcome === 'committed') return;
      throw this.endedError();
    }
    this.outcome = 'committed';
    await (this.ending = this.end('COMMIT'));
  }

  /** Rolls back (a no-op on a unit that already ended; waits for an end in progress). Never throws. */
  async rollback(): Promise<void> {
    if (!this.ending) {
      this.outcome = 'rolled back';
      this.ending = this.end('ROLLBACK');
    }
    await this.ending.catch(() => undefined);
  }

  private async end(command: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    let failure: Error | undefined;
    let rolledBack = false;
    try {
      if (this.begun) {
        const gate = await this.begun;
        // pg runs queries in the order they were sent: let every one already sent settle, so none
        // is still pending on the connection when the transaction ends and it is released.
        await gate.close();
        // Nothing was sent: no transaction was begun on the connection.
        if (!this.opener?.sent) return;
        // On the driver's connection, for the command tag: PostgreSQL answers the COMMIT of a
        // transaction that a failed statement aborted with ROLLBACK, not with an error.
        const answer = (await gate.raw.query(command)) as { command?: string };
        rolledBack = command === 'COMMIT' && answer.command === 'ROLLBACK';
      }
    } catch (err) {
      failure = err as Error;
      if (command === 'COMMIT') {
        this.outcome = 'rolled back';
        throw err;
      }
    } finally {
      await this.releaseAll(failure);
    }
    if (rolledBack) {
      this.outcome = 'rolled back';
      throw new UnitOfWorkAbortedError(this.tenant.id);
    }
  }

  /** A database error (not one of ours, such as a refusal by `beforeBegin`) asks `onBeginFailed`. */
  private async beginFailed(err: unknown): Promise<never> {
    if (!(err instanceof TenancyError)) await this.onBeginFailed(err);
    throw err;
  }

  private patch(runner: PatchedRunner): PatchedRunner {
    const connect = runner.connect.bind(runner);
    runner.connect = () => {
      if (!this.begun) {
        if (this.ended) return Promise.reject(this.endedError());
        this.connectingAt = performance.now();
        this.begun = Promise.resolve()
          .then(() => this.beforeBegin())
          .then(async () => {
            // The server's connection budget: waits its fair turn, at most the acquire timeout.
            const permit = await this.lease?.admit?.();
            // Rolled back meanwhile (the client went away): no connection is needed any more.
            if (this.outcome === 'rolled back') {
              permit?.();
              throw this.endedError();
            }
            this.permit = permit;
          })
          .then(() => connect() as Promise<Client>)
          .catch((err: unknown) => this.beginFailed(err))
          .then((taken: unknown) => {
            const connection = taken as Client;
            // BEGIN and the settings travel with the first query (see TransactionOpener).
            const opener = new TransactionOpener(connection, this.settings, this.onFenced, (err) => this.beginFailed(err));
            const gate = new ConnectionGate(
              connection,
              () => this.endedError(),
              (args) => this.countWrites(opener.send(args)),
            );
            this.opener = opener;
            runner.databaseConnection = gate.client;
            return gate;
          });
      }
      return this.begun.then((gate) => gate.client);
    };
    // TypeORM checks `isReleased` on entry, then awaits before it sends: the gate is what refuses a
    // query that was entered before the end; these give the typed error to one entered after it.
    // TypeORM wraps the gate's refusal in a QueryFailedError: it is given back as it is.
    this.guard(runner, ['query', 'stream']);
    // The manager checks `isReleased` first and would throw TypeORM's own error.
    this.guard(runner.manager, ['query', 'transaction']);
    // The transaction is opened with the first query; TypeORM must nest inside it, not start its own.
    runner.isTransactionActive = true;
    runner.transactionDepth = 1;
    return runner;
  }

  /** Adds the rows a query's answer reports written (its own promise is returned unchanged). */
  private countWrites(sent: unknown): unknown {
    if (sent instanceof Promise)
      sent.then(
        (result: unknown) => (this.written += rowsWrittenBy(result)),
        () => undefined,
      );
    return sent;
  }

  /** Makes `target`'s methods refuse once the unit ended, and unwrap the gate's refusal. */
  private guard(target: object, names: string[]): void {
    for (const name of names) {
      const original = (target as any)[name];
      if (typeof original !== 'function') continue;
      (target as any)[name] = async (...args: unknown[]) => {
        if (this.ended) throw this.endedError();
        try {
          return await original.apply(target, args);
        } catch (err) {
          const cause = (err as { driverError?: unknown }).driverError;
          throw cause instanceof TenancyError ? cause : err;
        }
      };
    }
  }

  private endedError(): UnitOfWorkEndedError {
    return new UnitOfWorkEndedError(this.tenant.id);
  }

  /**
   * Gives the connection back. After any failure to commit or roll back, the connection's state is
   * unknown (it may still be inside the transaction), so it is destroyed rather than reused.
   */
  private async releaseAll(failure?: Error): Promise<void> {
    const runner = this.runner;
    try {
      if (runner) {
        runner.isTransactionActive = false;
        runner.transactionDepth = 0;
        if (failure && runner.releasePostgresConnection) await runner.releasePostgresConnection(failure);
        else await runner.release();
      }
    } finally {
      if (this.connectingAt !== undefined) this.releasedAt = performance.now();
      this.permit?.();
      // A start still in flight gives its lease back itself once it sees the unit ended.
      await this.starting?.catch(() => undefined);
      this.lease?.release();
      this.leaveSlot?.();
    }
  }
}

const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** The rows a pg result (or the results of a multi-statement query) reports written. */
function rowsWrittenBy(result: unknown): number {
  if (Array.isArray(result)) return result.reduce((sum: number, r) => sum + rowsWrittenBy(r), 0);
  const r = result as { command?: string; rowCount?: number | null } | undefined;
  return r && typeof r.rowCount === 'number' && WRITES.has(r.command ?? '') ? r.rowCount : 0;
}
