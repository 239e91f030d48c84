/**
 * A tenant id: 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit.
 * The format is checked before any lookup, and it is what makes the schema and database names that
 * derive from it injective ('-' maps to '_', which an id cannot hold) and short enough for
 * PostgreSQL's 63-byte identifiers.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function isValidTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}
