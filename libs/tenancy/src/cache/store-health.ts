import { Logger } from '@nestjs/common';
import { errorMessage } from '../core/error-message';

/**
 * Whether the tenant cache's store answers, said once per outage: one warning when it first fails,
 * one line when it answers again, nothing for every request in between. Each operation is bounded
 * by `timeoutMillis`: a store that does not answer in time has failed.
 */
export class StoreHealth {
  private readonly logger = new Logger('TenantCache');
  private failingSince?: number;
  /** Failures seen so far: a read whose call saw none more answered, even with a miss. */
  failures = 0;

  constructor(private readonly timeoutMillis: number) {}

  /** True while the last operation failed. */
  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  /**
   * `operation`, rejected after `timeoutMillis`; a rejection is recorded as a failure. Success is
   * recorded by the caller (`ok`) when the result proves the store answered: cache-manager turns a
   * failed read into a miss (and emits the error, which the caller passes to `failed`).
   */
  async run<T>(operation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no answer within ${this.timeoutMillis} ms`)), this.timeoutMillis);
    });
    try {
      return await Promise.race([operation, late]);
    } catch (err) {
      this.failed(err);
      throw err;
    } finally {
      clearTimeout(timer);
      // A late rejection must not be unhandled.
      operation.catch(() => undefined);
    }
  }

  failed(err: unknown): void {
    this.failures++;
    if (this.failingSince !== undefined) return;
    this.failingSince = Date.now();
    this.logger.warn(
      `The tenant cache's store does not answer (${errorMessage(err)}): reads are misses and writes are skipped until it is back; requests go on uncached.`,
    );
  }

  ok(): void {
    if (this.failingSince === undefined) return;
    const seconds = Math.round((Date.now() - this.failingSince) / 1000);
    this.failingSince = undefined;
    this.logger.log(`The tenant cache's store answers again (after ${seconds} s).`);
  }
}
