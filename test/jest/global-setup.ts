// Jest's globalSetup for `npm test`: one throwaway embedded PostgreSQL for the whole run (each suite
// creates and drops its own databases and role in it), unless TEST_DATABASE_URL names a server.
// The workers inherit TEST_DATABASE_URL; global-teardown.ts stops the server.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runState } from './run-state';

export default async function globalSetup(): Promise<void> {
  process.env.NODE_ENV = 'test';
  if (process.env.TEST_DATABASE_URL) return;
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-test-'));
  const started = Date.now();
  const server = await startEmbeddedPostgres({ dir, persistent: false });
  process.env.TEST_DATABASE_URL = server.url;
  runState().embedded = { server, dir };
  console.log(`\nembedded PostgreSQL for the tests started in ${Date.now() - started} ms`);
}
