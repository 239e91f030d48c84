/** The SQLSTATE of a PostgreSQL error, raw from `pg` or wrapped by TypeORM (`driverError`); else undefined. */
export function sqlState(err: unknown): string | undefined {
  const code =
    (err as { driverError?: { code?: unknown }; code?: unknown } | undefined)?.driverError?.code ??
    (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
