// The CLI (dist/src/cli.js) and `npm run migrate` (dist/src/migrate.js) beside a running `npm start`
// on its embedded PostgreSQL: they find the server through .data/postgres/running.json, and a stale
// record (its process gone) is ignored.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { stringify } from 'yaml';
import { freePort } from '../src/database/embedded-postgres';
import { RUNNING_FILE } from '../src/database/running-server-file';
import { assertReadable, ENTRY, run } from './support/cli-run';
import { DEMO_TENANTS as TENANTS } from './support/service-run';
import { DEFAULT_TIERS } from './support/test-app';
import { childProcessEnv } from './support/test-database';

describe('CLI and migrate beside a running `npm start` on the embedded PostgreSQL', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nt-cli-embedded-'));
  const tenantsFile = join(cwd, 'tenants.yaml');
  let env: Record<string, string>;
  let service: ReturnType<typeof spawn> | undefined;
  let serviceOutput = '';

  beforeAll(async () => {
    // As a project folder is: the `postgres` user the embedded server runs as under root may enter it.
    chmodSync(cwd, 0o755);
    writeFileSync(tenantsFile, stringify({ tiers: DEFAULT_TIERS, tenants: TENANTS }));
    env = Object.fromEntries(
      Object.entries(childProcessEnv({ TENANCY_CONFIG: tenantsFile, NODE_ENV: 'test', PORT: String(await freePort()) })).filter(
        ([k]) => k !== 'DATABASE_URL',
      ),
    );
    service = spawn(process.execPath, [ENTRY('main')], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`the service did not start:\n${serviceOutput}`)), 120_000);
      const onData = (d: Buffer) => {
        serviceOutput += d;
        if (/is running at/.test(serviceOutput)) {
          clearTimeout(timer);
          ok();
        }
      };
      service!.stdout!.on('data', onData);
      service!.stderr!.on('data', onData);
      service!.on('exit', () => fail(new Error(`the service exited:\n${serviceOutput}`)));
    });
  });

  afterAll(async () => {
    if (service && service.exitCode === null) {
      const exited = new Promise((ok) => service!.on('exit', ok));
      service.kill('SIGINT');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('the running service records where its embedded PostgreSQL listens', () => {
    const record = JSON.parse(readFileSync(join(cwd, '.data', 'postgres', RUNNING_FILE), 'utf8'));
    assert.equal(record.pid, service!.pid);
    assert.ok(Number.isInteger(record.port) && record.port > 0);
  });

  it('`tenancy list` uses that server: the tenants, exit 0, nothing undefined', async () => {
    const { code, output } = await run('cli', ['list'], env, cwd);
    assertReadable(output);
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`using the embedded PostgreSQL of the service running as process ${service!.pid}`));
    assert.doesNotMatch(output, /starting an embedded PostgreSQL|already running/);
    for (const t of TENANTS) assert.match(output, new RegExp(`^${t.id}\\s`, 'm'));
  });

  it('`npm run migrate` and `--status` use it too, and say what they did', async () => {
    const status = await run('migrate', ['--status'], env, cwd);
    assertReadable(status.output);
    assert.equal(status.code, 0, status.output);
    assert.match(status.output, /^@shared\s+shared\s+current/m);
    const migrated = await run('migrate', [], env, cwd);
    assertReadable(migrated.output);
    assert.equal(migrated.code, 0, migrated.output);
    assert.match(migrated.output, /3 targets: 0 migrated now, 0 migrated at start-up, 3 up to date, 0 failed/);
  });

  it('once the service is stopped its record is gone, and a stale record is ignored', async () => {
    const file = join(cwd, '.data', 'postgres', RUNNING_FILE);
    const exited = new Promise((ok) => service!.on('exit', ok));
    service!.kill('SIGINT');
    await exited;
    assert.equal(existsSync(file), false, 'the record outlived the service');
    // A record left by a process that is gone (a killed service): the CLI starts the server itself.
    writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, port: 1, startedAt: new Date().toISOString() }));
    const { code, output } = await run('cli', ['list'], env, cwd);
    assertReadable(output);
    assert.equal(code, 0, output);
    assert.match(output, /starting an embedded PostgreSQL/);
    assert.match(output, /^acme\s/m);
  });
});
