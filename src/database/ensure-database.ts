import { Logger } from '@nestjs/common';
import { EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';

/**
 * With DATABASE_URL set, uses that server. Without it, starts the embedded PostgreSQL kept under
 * `.data/` (created on first use, reused across restarts) and points DATABASE_URL at it.
 */
export async function ensureDatabase(logger = new Logger('Database')): Promise<EmbeddedPostgres | undefined> {
  if (process.env.DATABASE_URL) return undefined;
  logger.log('No DATABASE_URL: starting an embedded PostgreSQL (data under .data/)');
  const embedded = await startEmbeddedPostgres({ dir: '.data/postgres', persistent: true });
  process.env.DATABASE_URL = embedded.url;
  return embedded;
}
