/**
 * Where a tenant's rows live: a schema of a database on one of the configured servers (`default`
 * is the home server). Each isolation strategy maps a tenant to one; migrations, fences, moves and
 * sizes work on locations, never on models.
 */
export interface TenantLocation {
  /** A key of the `servers` option. */
  server: string;
  database: string;
  schema: string;
}
