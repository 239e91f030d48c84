import { Logger } from '@nestjs/common';
import { errorMessage } from '../../libs/tenancy/src';
import { EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { findRunningServer } from './running-server-file';

/** Where `npm start` keeps its embedded PostgreSQL, relative to the project folder. */
export const EMBEDDED_DIR = '.data/postgres';

/**
 * With DATABASE_URL set, uses that server. Without it, uses the embedded PostgreSQL under `.data/`:
 * the one a running service (`npm start`) started, found through its `running.json`, or else one
 * started here (created on first use, reused across restarts), and points DATABASE_URL at it.
 * Resolves to the server started here (the caller stops it), or undefined when none was started.
 */
export async function ensureDatabase(logger = new Logger('Database')): Promise<EmbeddedPostgres | undefined> {
  if (process.env.DATABASE_URL) return undefined;
  const running = findRunningServer(EMBEDDED_DIR);
  if (running) {
    logger.log(`No DATABASE_URL: using the embedded PostgreSQL of the service running as process ${running.pid} (port ${running.port})`);
    process.env.DATABASE_URL = running.url;
    return undefined;
  }
  logger.log('No DATABASE_URL: starting an embedded PostgreSQL (data under .data/)');
  const embedded = await startEmbeddedPostgres({ dir: EMBEDDED_DIR, persistent: true });
  process.env.DATABASE_URL = embedded.url;
  return embedded;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET']);

/**
 * What to print when a command fails to start: the error's message, except when the database
 * server of DATABASE_URL cannot be reached, which gets a sentence that says which server and what
 * to do (the driver's own words alone, `connect ECONNREFUSED 127.0.0.1:1`, do not).
 */
export function describeStartFailure(err: unknown): string {
  const message = errorMessage(err);
  const code = (err as { code?: unknown } | undefined)?.code;
  const unreachable =
    (typeof code === 'string' && UNREACHABLE.has(code)) || /^Connection terminated|^timeout exceeded when trying to connect/i.test(message);
  if (!unreachable) return message;
  let server = 'its server';
  try {
    const url = new URL(process.env.DATABASE_URL ?? '');
    server = `${url.hostname}:${url.port || 5432}`;
  } catch {
    // Not a URL: say nothing of it.
  }
  return `Cannot reach the PostgreSQL server of DATABASE_URL (${server}). Start it, or fix DATABASE_URL (leave it unset and npm start runs an embedded PostgreSQL).`;
}
