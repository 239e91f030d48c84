import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The file an embedded PostgreSQL's folder holds while the process that started it runs (the
 * service of `npm start`): where it listens, so that the CLI and `npm run migrate` started beside
 * it use that server instead of trying to start a second one on the same data. Written once the
 * server accepts connections, removed when it stops; one whose process is gone is stale and
 * ignored.
 */
export const RUNNING_FILE = 'running.json';

/** What the file holds. */
interface RunningRecord {
  /** The process that started the server (and stops it). */
  pid: number;
  /** The TCP port on 127.0.0.1. */
  port: number;
  startedAt: string;
}

/** A running embedded server found through its folder's file. */
export interface RunningServer {
  /** A superuser URL of its `postgres` database. */
  url: string;
  port: number;
  /** The process that started it. */
  pid: number;
}

/** Records that this process runs the server of `dir` on `port`; the returned function removes the record (idempotent). */
export function writeRunningFile(dir: string, port: number): () => void {
  const file = join(dir, RUNNING_FILE);
  const record: RunningRecord = { pid: process.pid, port, startedAt: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  const remove = (): void => {
    process.off('exit', remove);
    try {
      // Only our own record: a server started later on the same folder may have replaced it.
      if ((JSON.parse(readFileSync(file, 'utf8')) as RunningRecord).pid === process.pid) rmSync(file, { force: true });
    } catch {
      // Gone already, or unreadable: nothing of ours to remove.
    }
  };
  // A process that ends without stopping the server (an uncaught error) leaves no record behind.
  process.on('exit', remove);
  return remove;
}

/**
 * The server the folder's file names, when both the process that started it and the PostgreSQL
 * server on the data folder are alive; undefined otherwise (no file, a malformed one, or a stale
 * one whose process is gone).
 */
export function findRunningServer(dir: string): RunningServer | undefined {
  let record: RunningRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, RUNNING_FILE), 'utf8')) as RunningRecord;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(record.pid) || !Number.isInteger(record.port) || record.port < 1 || record.port > 65535) return undefined;
  if (!alive(record.pid) || !runningPostmaster(join(dir, 'data'))) return undefined;
  let password: string;
  try {
    password = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
  } catch {
    return undefined;
  }
  return { url: `postgres://postgres:${password}@127.0.0.1:${record.port}/postgres`, port: record.port, pid: record.pid };
}

/**
 * The process id in `dataDir/postmaster.pid` when that process is alive (a server runs on the
 * directory), else undefined (no file, or a stale one PostgreSQL will replace).
 */
export function runningPostmaster(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's (the `postgres` user the server runs as under root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
