import type { TransactionLimits } from '../config/tenancy-options';

/**
 * The columns of the preamble's SELECT that apply a unit of work's time limits:
 * `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout`, each with
 * `set_config(..., true)` so it lasts the transaction only (safe behind a transaction pooler). In the
 * same SELECT as the tenant settings: a statement of its own would cost a parse and plan (about
 * 100 µs) per unit of work. Values are integers of milliseconds, checked here, never request input.
 */
export function transactionLimits(limits: Required<TransactionLimits>): string {
  const ms = (name: string, value: number) => {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`refusing a ${name} of ${String(value)} ms`);
    return `set_config('${name}', '${value}', true)`;
  };
  return `${ms('statement_timeout', limits.statementMillis)}, ${ms('lock_timeout', limits.lockMillis)}, ${ms('idle_in_transaction_session_timeout', limits.idleInTransactionMillis)}`;
}
