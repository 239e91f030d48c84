import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../../src/database/embedded-postgres';

/** What starts each line of the server's log: `@@|<user>|<database>|<session>|<virtual xid>|`. */
export const LOG_PREFIX = '@@|';

/** A throwaway PostgreSQL of a suite's own, logging every statement. */
export interface StatementLogServer {
  server: EmbeddedPostgres;
  /** Everything the server has logged so far. */
  log(): string;
  /** Stops the server and deletes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL that logs every statement (`log_statement = 'all'`), each line prefixed with
 * `LOG_PREFIX` then user, database, session id and virtual transaction id, separated by `|`
 * (PostgreSQL's log_line_prefix `%u|%d|%c|%v|`).
 */
export async function startStatementLogServer(name: string): Promise<StatementLogServer> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  let log = '';
  const server = await startEmbeddedPostgres({ dir, persistent: false, log: (chunk) => (log += chunk) });
  const c = new Client({ connectionString: server.url });
  await c.connect();
  await c.query(`ALTER SYSTEM SET log_line_prefix = '${LOG_PREFIX}%u|%d|%c|%v|'`);
  await c.query(`ALTER SYSTEM SET log_statement = 'all'`);
  await c.query(`SELECT pg_reload_conf()`);
  await c.end();
  return {
    server,
    log: () => log,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Logs a unique statement as the owner on `url`; returns its text, to cut the log at. */
export async function markLog(url: string, what: string): Promise<string> {
  const marker = `nt-mark-${what}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`SELECT '${marker}'`);
  await c.end();
  return marker;
}

/** One record of the server's log (see `startStatementLogServer` for the line prefix). */
export interface LogRecord {
  user: string;
  database: string;
  session: string;
  vxid: string;
  /** LOG, ERROR, WARNING, ... */
  level: string;
  text: string;
  /** The `DETAIL` lines that followed it in the same session (an extended-protocol statement's parameters). */
  params: string;
}

/**
 * The server's log as records: a line with `LOG_PREFIX` starts one, others continue it; a DETAIL
 * line of the same session is added to the record before it as `params`.
 */
export function parseLog(log: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of log.split('\n')) {
    if (line.startsWith(LOG_PREFIX)) {
      const [user, database, session, vxid, ...rest] = line.slice(LOG_PREFIX.length).split('|');
      const body = rest.join('|');
      const m = /^(\w+):\s+(.*)$/.exec(body);
      const level = m?.[1] ?? '';
      const text = m?.[2] ?? body;
      if (level === 'DETAIL' && records.length && records.at(-1)!.session === session) {
        records.at(-1)!.params += text;
        continue;
      }
      records.push({ user, database, session, vxid, level, text, params: '' });
    } else if (records.length) {
      records.at(-1)!.text += `\n${line}`;
    }
  }
  return records;
}
