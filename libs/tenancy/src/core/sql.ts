/** SQL text helpers: every schema, database and role name, and every literal built into DDL, goes through here. */

/** Quotes an identifier for SQL. Every schema, database and role name goes through here. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a literal for SQL (standard_conforming_strings is on in every supported version). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('a SQL literal cannot hold a NUL byte');
  return `'${value.replace(/'/g, "''")}'`;
}
