import type { ChildProcess } from 'node:child_process';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';

/** What jest's globalSetup started, for its globalTeardown (both run in jest's main process). */
export interface RunState {
  embedded?: { server: EmbeddedPostgres; dir: string };
  /** The PgBouncer of `npm run test:pooler`, and its folder. */
  pooler?: { process: ChildProcess; dir: string };
}

const KEY = Symbol.for('nest-tenancy.jest-run-state');

/** The run's state, kept on the global object: globalSetup and globalTeardown are loaded apart. */
export function runState(): RunState {
  const g = globalThis as unknown as Record<symbol, RunState>;
  return (g[KEY] ??= {});
}
