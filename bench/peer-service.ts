import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Client } from 'pg';
import type { QueryRunner } from 'typeorm';
import { freePort } from '../src/database/embedded-postgres';
import { CreateUsersAndProjects1732752000001 } from '../src/migrations/1732752000001-create-users-and-projects';
import { BenchService, stopChild } from './kit-service';
import { waitForHttp } from './wait-for-http';

/**
 * The peer of `npm run bench`: the published NestJS RLS package @avallone-io/rls in bench/peer, with
 * its own package.json and lockfile (TypeORM 0.3; NestJS is the root's), its own build and its own
 * database. Paths are relative to the project's root, where npm runs the script.
 */
const DIR = 'bench/peer';
const INSTALLED = `${DIR}/node_modules/.package-lock.json`;
const MAIN = `${DIR}/dist/peer/src/main.js`;

const version = (pkg: string) =>
  (JSON.parse(readFileSync(`${DIR}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;

/**
 * Installs bench/peer's dependencies when they are missing or older than its lockfile (`npm ci`,
 * said on the console), then builds it with its own tsconfig. Returns the versions it runs on.
 * Throws when either step fails.
 */
export function preparePeer(): string {
  if (!existsSync(INSTALLED) || statSync(INSTALLED).mtimeMs < statSync(`${DIR}/package-lock.json`).mtimeMs) {
    console.log(`${DIR}/node_modules is missing or older than its lockfile: npm ci --prefix ${DIR} --no-audit --no-fund`);
    const npm = spawnSync('npm', ['ci', '--prefix', DIR, '--no-audit', '--no-fund'], { stdio: 'inherit' });
    if (npm.status !== 0) throw new Error(`npm ci --prefix ${DIR} failed (${npm.status ?? npm.signal})`);
  }
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', `${DIR}/tsconfig.json`], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc -p ${DIR}/tsconfig.json failed (${tsc.status ?? tsc.signal})`);
  return `@avallone-io/rls ${version('@avallone-io/rls')}, @nestjs/typeorm ${version('@nestjs/typeorm')}, typeorm ${version('typeorm')}`;
}

/**
 * The peer's tables: the kit's own (its migration's statements: the same columns, keys, index and
 * forced RLS policies), keyed on the setting @avallone-io/rls sets around every query,
 * `rls.tenant_id` (its README's policy), instead of the kit's `app.tenant_id`.
 */
async function peerTables(): Promise<string[]> {
  const statements: string[] = [];
  const recorder = { query: async (sql: string) => void statements.push(sql) } as unknown as QueryRunner;
  await new CreateUsersAndProjects1732752000001().up(recorder);
  return statements.map((sql) => sql.replaceAll('app.tenant_id', 'rls.tenant_id'));
}

/**
 * The peer's database on the server `adminUrl` (a superuser) points at: `bench_peer` with the
 * tables of peerTables, and the role peer_app it connects as (no superuser, no BYPASSRLS, owns
 * nothing: RLS applies). Returns peer_app's URL.
 */
export async function createPeerDatabase(admin: Client, adminUrl: string): Promise<string> {
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE ROLE peer_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
  await admin.query('CREATE DATABASE bench_peer');
  const url = new URL(adminUrl);
  url.pathname = '/bench_peer';
  const owner = new Client({ connectionString: url.href });
  await owner.connect();
  try {
    for (const sql of await peerTables()) await owner.query(sql);
    await owner.query('GRANT SELECT, INSERT, UPDATE, DELETE ON users, projects TO peer_app');
  } finally {
    await owner.end();
  }
  url.username = 'peer_app';
  url.password = password;
  return url.href;
}

/** Starts the built peer on `databaseUrl` (peer_app's); resolves once it answers tenant `probeTenant`. */
export async function startPeer(options: { databaseUrl: string; probeTenant: string; env: Record<string, string> }): Promise<BenchService> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: options.databaseUrl, PORT: String(port), ...options.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/users?limit=1`, child, 'the peer', { 'x-tenant-id': options.probeTenant });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { base, child, stop: () => stopChild(child) };
}
