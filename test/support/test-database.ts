import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The server the tests use: the embedded one `npm test` started, or TEST_DATABASE_URL. */
export function testServerUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` (it starts an embedded PostgreSQL).');
  return url;
}

export function urlFor(database: string, base = testServerUrl()): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A short random suffix that keeps databases and roles of parallel suites apart. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Runs `fn` with a plain pg client signed in as the owner on `database`. */
export async function withOwnerClient<T>(database: string | undefined, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: database ? urlFor(database) : testServerUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The environment for a child process of a suite (the service or the CLI run as an operator would):
 * the suite's own, less every setting its test apps left in process.env (TENANCY_*, TENANT_*,
 * DATABASE_*), which would point the child at another app's databases.
 */
export function childProcessEnv(env: Record<string, string>): Record<string, string> {
  const inherited = Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(TENANCY_|TENANT_|DATABASE_)/.test(k));
  return { ...(Object.fromEntries(inherited) as Record<string, string>), ...env };
}
