#!/usr/bin/env node
// The command behind `npm run test:pooler`: the e2e and isolation suites, and a move of a tenant of
// each model under write load, with requests going through a real PgBouncer in transaction mode.
// Starts a throwaway embedded PostgreSQL (unless TEST_DATABASE_URL is given) and a PgBouncer in
// front of it on a free port (wildcard database, SCRAM with secrets fetched by auth_query, so every
// runtime role signs in), points TEST_POOLER_URL at PgBouncer and TEST_DATABASE_URL at PostgreSQL.
// Needs Debian's pgbouncer (apt-get install pgbouncer); build first (npm run build:test).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { connect } from 'node:net';

const dist = resolve(process.env.TEST_DIST ?? 'dist');
const require = createRequire(import.meta.url);
const SUITES = ['test/api.e2e.test.js', 'test/isolation.e2e.test.js', 'test/pooler/pooler-move.e2e.test.js'];

const pgbouncer = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'].find((p) => existsSync(p));
if (!pgbouncer) {
  console.error("pgbouncer is not installed: apt-get install pgbouncer (the pooler suite runs Debian's PgBouncer in transaction mode)");
  process.exit(1);
}
const files = process.argv.slice(2).length ? process.argv.slice(2) : SUITES.map((f) => join(dist, f));
for (const f of files) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: build first (npm run build:test)`);
    process.exit(1);
  }
}

const { startEmbeddedPostgres, freePort } = require(join(dist, 'src/database/embedded-postgres.js'));
const workDir = mkdtempSync(join(tmpdir(), 'nest-tenancy-pooler-'));
let embedded;
let bouncer;
const env = { ...process.env };
let code = 1;
// Run as root, PostgreSQL and PgBouncer run as the postgres user, which must be able to enter it.
const asRoot = process.getuid?.() === 0;
if (asRoot) chmodSync(workDir, 0o755);
try {
  if (!env.TEST_DATABASE_URL) {
    embedded = await startEmbeddedPostgres({ dir: join(workDir, 'pg'), persistent: false });
    env.TEST_DATABASE_URL = embedded.url;
  }
  const server = new URL(env.TEST_DATABASE_URL);
  const port = await freePort();
  const dir = join(workDir, 'pgbouncer');
  spawnSync('mkdir', ['-p', dir]);
  // auth_user's own secret comes from the auth file; every other role's from auth_query.
  writeFileSync(join(dir, 'userlist.txt'), `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`, {
    mode: 0o600,
  });
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
      `auth_user = ${decodeURIComponent(server.username)}`,
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
  // PgBouncer refuses to run as root: run it as the postgres user then (as the embedded server does).
  if (asRoot) spawnSync('chown', ['-R', 'postgres', dir]);
  bouncer = spawn(pgbouncer, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((ok) => bouncer.on('exit', (c) => ok(c)));
  await waitForPort(port, 10_000, exited, join(dir, 'pgbouncer.log'));
  const pooler = new URL(env.TEST_DATABASE_URL);
  pooler.port = String(port);
  env.TEST_POOLER_URL = pooler.toString();
  console.log(`PgBouncer (transaction mode) on 127.0.0.1:${port} in front of PostgreSQL on ${server.hostname}:${server.port}`);

  const child = spawn(
    process.execPath,
    ['--test', `--test-concurrency=${env.TEST_CONCURRENCY ?? '2'}`, '--test-reporter=spec', '--test-timeout=300000', ...files],
    { stdio: 'inherit', env: { ...env, NODE_ENV: 'test' } },
  );
  code = await new Promise((ok) => child.on('exit', (c, signal) => ok(c ?? (signal ? 1 : 0))));
} catch (err) {
  console.error(`test:pooler: ${err.message}`);
  code = 1;
} finally {
  if (bouncer && bouncer.exitCode === null) {
    bouncer.kill('SIGTERM');
    await new Promise((ok) => (bouncer.exitCode !== null ? ok() : bouncer.on('exit', ok)));
  }
  if (embedded) await embedded.stop().catch((err) => console.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(code);

async function waitForPort(port, timeoutMillis, exited, log) {
  const deadline = Date.now() + timeoutMillis;
  let gone = false;
  exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone)
      throw new Error(
        `pgbouncer exited at start: ${existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ') : 'no log'}`,
      );
    const open = await new Promise((ok) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), ok(true)));
      s.once('error', () => ok(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on port ${port} within ${timeoutMillis} ms`);
}
