import type { DataSource, QueryRunner } from 'typeorm';

/**
 * Runs `fn` while holding the session advisory lock `key`, taken on one connection of `ds` and held
 * until `fn` settles. A session lock outlives the transactions `fn` commits and vanishes with the
 * session, so a killed holder frees it. With `ifBusy` the lock is only tried: when another session
 * holds it, `fn` does not run and `ifBusy()` is returned (or thrown).
 */
export async function withAdvisoryLock<T, B = never>(
  ds: DataSource,
  key: string,
  fn: (runner: QueryRunner) => Promise<T>,
  ifBusy?: () => B,
): Promise<T | B> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    if (ifBusy) {
      const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [key]);
      if (!locked) return ifBusy();
    } else {
      await runner.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
    }
    try {
      return await fn(runner);
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}
