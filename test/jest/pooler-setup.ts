// Jest's globalSetup for `npm run test:pooler`: the test PostgreSQL (global-setup.ts), and a real
// PgBouncer in transaction mode in front of it on a free port (wildcard database, SCRAM with secrets
// fetched by auth_query, so every runtime role signs in). TEST_POOLER_URL points at PgBouncer,
// TEST_DATABASE_URL at PostgreSQL. Needs Debian's pgbouncer (apt-get install pgbouncer).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/database/embedded-postgres';
import globalSetup from './global-setup';
import { runState } from './run-state';

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export default async function poolerSetup(): Promise<void> {
  const pgbouncer = PGBOUNCER.find((p) => existsSync(p));
  if (!pgbouncer) {
    throw new Error("pgbouncer is not installed: apt-get install pgbouncer (the pooler suites run Debian's PgBouncer in transaction mode)");
  }
  await globalSetup();
  const server = new URL(process.env.TEST_DATABASE_URL!);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-pooler-'));
  // PgBouncer refuses to run as root: run it as the postgres user then (as the embedded server does).
  const asRoot = process.getuid?.() === 0;
  const user = decodeURIComponent(server.username);
  // auth_user's own secret comes from the auth file; every other role's from auth_query.
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `auth_user = ${user}`,
      'auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1',
      'max_client_conn = 2000',
      'default_pool_size = 20',
      'max_db_connections = 0',
      'server_reset_query =',
      // A tenant database dropped by a move must not lock its name out for the default 15 s.
      'server_login_retry = 1',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  if (asRoot) {
    chmodSync(dir, 0o755);
    spawnSync('chown', ['-R', 'postgres', dir]);
  }
  const bouncer = spawn(pgbouncer, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  runState().pooler = { process: bouncer, dir };
  const exited = new Promise<void>((ok) => bouncer.once('exit', () => ok()));
  await waitForPort(port, 10_000, exited, join(dir, 'pgbouncer.log'));
  const pooler = new URL(process.env.TEST_DATABASE_URL!);
  pooler.port = String(port);
  process.env.TEST_POOLER_URL = pooler.toString();
  console.log(`PgBouncer (transaction mode) on 127.0.0.1:${port} in front of PostgreSQL on ${server.hostname}:${server.port}`);
}

async function waitForPort(port: number, timeoutMillis: number, exited: Promise<void>, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) {
      const last = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ') : 'no log';
      throw new Error(`pgbouncer exited at start: ${last}`);
    }
    const open = await new Promise<boolean>((ok) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), ok(true)));
      s.once('error', () => ok(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on port ${port} within ${timeoutMillis} ms`);
}
