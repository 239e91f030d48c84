// The operator's day with the CLI (`npm run tenancy -- ...`, dist/src/cli.js) and `npm run migrate`
// (dist/src/migrate.js), run as processes as a shell runs them: help without a database, beside a
// running `npm start` on its embedded PostgreSQL, the catalog as the truth once a tenant is in it
// (deleted stays deleted, a move is reported once), and what a migration run says it did.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { freePort } from '../src/database/embedded-postgres';
import { RUNNING_FILE } from '../src/database/running-server-file';
import { DEMO_TENANTS as TENANTS, prepareServiceRun, type ServiceRun } from './support/service-run';
import { DEFAULT_TIERS } from './support/test-app';
import { childProcessEnv } from './support/test-database';

const ENTRY = (name: string) => join(__dirname, '..', 'src', `${name}.js`);

interface Ran {
  code: number | null;
  output: string;
}

/** Runs an entry point to its end (or, with `until`, until its output matches: then it keeps running). */
function run(entry: string, args: string[], env: Record<string, string>, cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ENTRY(entry), ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Nothing printed as `undefined`, no stack trace. */
function assertReadable(output: string): void {
  assert.doesNotMatch(output, /\bundefined\b/, output);
  assert.doesNotMatch(output, /^\s+at /m, output);
}

describe('CLI: help needs no database', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nt-cli-help-'));
  // No DATABASE_URL and an invalid JWT_SECRET: neither is looked at for help.
  const env = childProcessEnv({ JWT_SECRET: 'short', NODE_ENV: 'test' });

  after(() => rmSync(cwd, { recursive: true, force: true }));

  for (const args of [['--help'], [], ['help'], ['move', '--help']]) {
    it(`\`${['tenancy', ...args].join(' ')}\` lists the commands, starts no PostgreSQL`, async () => {
      const { code, output } = await run('cli', args, env, cwd);
      assertReadable(output);
      assert.match(
        output,
        args[0] === 'move'
          ? /--strategy[\s\S]*--tier/
          : /list[\s\S]*provision[\s\S]*suspend[\s\S]*resume[\s\S]*export[\s\S]*delete[\s\S]*migrate[\s\S]*move/,
      );
      assert.doesNotMatch(output, /PostgreSQL|DATABASE_URL|Invalid environment/);
      assert.equal(code, args.length === 0 ? 1 : 0, output);
      assert.equal(existsSync(join(cwd, '.data')), false, 'a data folder was made');
    });
  }

  it('an unknown command says so, with exit 1, and starts no PostgreSQL', async () => {
    const { code, output } = await run('cli', ['lisst'], env, cwd);
    assertReadable(output);
    assert.match(output, /unknown command 'lisst'/);
    assert.equal(code, 1);
    assert.equal(existsSync(join(cwd, '.data')), false);
  });
});

describe('CLI and migrate beside a running `npm start` on the embedded PostgreSQL', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nt-cli-embedded-'));
  const tenantsFile = join(cwd, 'tenants.yaml');
  let env: Record<string, string>;
  let service: ReturnType<typeof spawn> | undefined;
  let serviceOutput = '';

  before(async () => {
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

  after(async () => {
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

describe('CLI: the catalog is the truth once a tenant is in it', () => {
  let service: ServiceRun;
  let env: Record<string, string>;
  const cli = async (...args: string[]) => {
    const ran = await run('cli', args, env);
    assertReadable(ran.output);
    assert.equal(ran.code, 0, ran.output);
    return ran.output;
  };
  const rowOf = (output: string, id: string) => output.split('\n').find((l) => l.startsWith(`${id} `));

  before(async () => {
    service = await prepareServiceRun(TENANTS);
    env = service.env;
  });

  after(() => service?.cleanup());

  it('migrate right after a start-up that migrated everything says so, then says up to date', async () => {
    const first = await run('migrate', [], env);
    assertReadable(first.output);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /^@shared\s+shared\s+migrated at start-up: CreateUsersAndProjects/m);
    assert.match(first.output, /^acme\s+database\s+migrated at start-up: /m);
    assert.match(first.output, /3 targets: 0 migrated now, 3 migrated at start-up, 0 up to date, 0 failed/);
    assert.doesNotMatch(first.output, /skipped/);
    const again = await cli('migrate');
    assert.match(again, /3 targets: 0 migrated now, 0 migrated at start-up, 3 up to date, 0 failed/);
  });

  it('a deleted tenant of the tenants file stays deleted, said once; provisioning it brings it back', async () => {
    assert.match(await cli('delete', 'gadget', '--force'), /gadget deleted/);
    const next = await cli('list');
    assert.equal(rowOf(next, 'gadget'), undefined, next);
    assert.match(next, /tenant gadget of the tenants file was deleted .* stays deleted/);
    const later = await cli('list');
    assert.equal(rowOf(later, 'gadget'), undefined, later);
    assert.doesNotMatch(later, /was deleted/, 'said again');
    assert.match(await cli('provision', 'gadget', '--tier', 'free'), /gadget ready/);
    const back = await cli('list');
    assert.match(rowOf(back, 'gadget') ?? '', /^gadget\s+shared\s+free\s+active/);
    assert.doesNotMatch(back, /was deleted/);
  });

  it('a move with --tier shows in list as the current model and tier; the file differing is reported once', async () => {
    const moved = await cli('move', 'widget', '--tier', 'free');
    assert.match(moved, /widget: schema -> shared \(.*\), tier free/);
    const next = await cli('list');
    assert.match(rowOf(next, 'widget') ?? '', /^widget\s+shared\s+free\s+active/, next);
    assert.match(next, /tenant widget: the tenants file says schema model, tier pro, the catalog says shared model, tier free/);
    assert.match(next, /To reconcile/);
    const later = await cli('list');
    assert.doesNotMatch(later, /tenants file says/, 'reported again');
    assert.match(rowOf(later, 'widget') ?? '', /^widget\s+shared\s+free/);
  });

  it('a move whose tier is of another model is refused, with the reason, and changes nothing', async () => {
    const ran = await run('cli', ['move', 'acme', '--strategy', 'schema', '--tier', 'free'], env);
    assertReadable(ran.output);
    assert.equal(ran.code, 1, ran.output);
    assert.match(ran.output, /Tier 'free' is of the shared model, not schema/);
    assert.match(rowOf(await cli('list'), 'acme') ?? '', /^acme\s+database\s+enterprise/);
  });
});
