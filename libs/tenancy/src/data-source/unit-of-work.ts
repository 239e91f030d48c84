import type { EntityManager, QueryRunner } from 'typeorm';
import type { TenantRecord } from '../catalog/tenant-record';
import { TenancyError, UnitOfWorkAbortedError, UnitOfWorkEndedError } from '../errors/tenancy.errors';
import type { DataSourceLease } from './runtime-data-source';

type PatchedRunner = { -readonly [K in keyof QueryRunner]: QueryRunner[K] } & {
  transactionDepth: number;
  /** PostgresQueryRunner: with an error, the pool destroys the connection instead of reusing it. */
  releasePostgresConnection?(err?: Error): Promise<void>;
};

/**
 * One transaction for one request (or one `TenancyService.run`). Nothing happens until the first
 * query: then a connection is taken from the tenant's pool and, in ONE round trip, the transaction
 * begins and the tenant settings are applied with `set_config(..., true)`, scoped to it. Every query
 * of the unit uses that connection; TypeORM's own `transaction()` calls become savepoints inside it.
 * `commit` or `rollback` ends it, and the connection always goes back to the pool.
 */
export class UnitOfWork {
  private runner?: PatchedRunner;
  private begun?: Promise<unknown>;
  private finished = false;

  constructor(
    readonly tenant: TenantRecord,
    private readonly lease: DataSourceLease,
    private readonly preamble: string,
    /** Runs just before a connection is taken for the transaction; throwing refuses the unit. */
    private readonly beforeBegin: () => void = () => undefined,
    /**
     * Runs when the preamble found the tenant fenced at the place this unit reaches (its
     * transaction is read-only): this instance's catalog may be stale.
     */
    private readonly onFenced: () => void = () => undefined,
    /**
     * Runs when taking the connection or the preamble failed (the place may be gone: a move
     * switched the tenant elsewhere and dropped it before this instance heard). It may throw the
     * error to give instead (a TenantMovingError once the catalog says the tenant has moved).
     */
    private readonly onBeginFailed: (err: unknown) => Promise<void> = async () => undefined,
  ) {}

  get manager(): EntityManager {
    return this.queryRunner().manager;
  }

  queryRunner(): QueryRunner {
    if (this.finished) {
      throw new UnitOfWorkEndedError(this.tenant.id);
    }
    if (!this.runner) {
      const runner = this.lease.dataSource.createQueryRunner() as unknown as PatchedRunner;
      const connect = runner.connect.bind(runner);
      runner.connect = () =>
        (this.begun ??= Promise.resolve()
          .then(() => this.beforeBegin())
          .then(() => connect())
          .catch((err) => this.beginFailed(err))
          .then(async (connection: { query(sql: string): Promise<unknown> }) => {
            const results = (await connection.query(this.preamble).catch((err) => this.beginFailed(err))) as { rows?: { fenced?: boolean }[] }[];
            if (Array.isArray(results) && results[results.length - 1]?.rows?.[0]?.fenced === true) this.onFenced();
            return connection;
          }));
      // The transaction is opened by the preamble; TypeORM must nest inside it, not start its own.
      runner.isTransactionActive = true;
      runner.transactionDepth = 1;
      this.runner = runner;
    }
    return this.runner as unknown as QueryRunner;
  }

  /** A database error (not one of ours, such as a refusal by `beforeBegin`) asks `onBeginFailed`. */
  private async beginFailed(err: unknown): Promise<never> {
    if (!(err instanceof TenancyError)) await this.onBeginFailed(err);
    throw err;
  }

  async commit(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    let failure: Error | undefined;
    let rolledBack = false;
    try {
      if (this.begun) {
        // On the driver's connection, for the command tag: PostgreSQL answers the COMMIT of a
        // transaction that a failed statement aborted with ROLLBACK, not with an error.
        const connection = (await this.begun) as { query(sql: string): Promise<{ command?: string }> };
        rolledBack = (await connection.query('COMMIT')).command === 'ROLLBACK';
      }
    } catch (err) {
      failure = err as Error;
      throw err;
    } finally {
      await this.releaseAll(failure);
    }
    if (rolledBack) throw new UnitOfWorkAbortedError(this.tenant.id);
  }

  async rollback(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    let failure: Error | undefined;
    try {
      if (this.begun) {
        await this.begun;
        await this.runner!.query('ROLLBACK');
      }
    } catch (err) {
      failure = err as Error;
    } finally {
      await this.releaseAll(failure);
    }
  }

  /**
   * Gives the connection back. After any failure to commit or roll back, the connection's state is
   * unknown (it may still be inside the transaction), so it is destroyed rather than reused.
   */
  private async releaseAll(failure?: Error): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    try {
      if (runner) {
        runner.isTransactionActive = false;
        runner.transactionDepth = 0;
        if (failure && runner.releasePostgresConnection) await runner.releasePostgresConnection(failure);
        else await runner.release();
      }
    } finally {
      this.lease.release();
    }
  }
}
