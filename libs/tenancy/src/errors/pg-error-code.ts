/** The SQLSTATE of a PostgreSQL error, whether raw from `pg` or wrapped by TypeORM. */
export function pgErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATE 25006: a write in a read-only transaction, i.e. in a fenced tenant's (see transaction-preamble.ts). */
export const READ_ONLY_TRANSACTION = '25006';
