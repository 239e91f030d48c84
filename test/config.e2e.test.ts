// An invalid configuration fails the start, before any database is touched, with a message that
// names the key and the tenant: in process (createApp rejects) and as `npm start` runs the service.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { stringify } from 'yaml';
import { TenancyConfigError } from '../libs/tenancy/src';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { compiledDir } from './support/compiled-dir';

const TIERS = { free: { strategy: 'shared' }, enterprise: { strategy: 'database', pool: { max: 2 } } };

/** Each bad file and what its one problem must say. */
const BAD_FILES: { what: string; doc: unknown; expect: RegExp }[] = [
  {
    what: 'an unknown tier',
    doc: {
      tiers: TIERS,
      tenants: [
        { id: 'alpha', name: 'Alpha', tier: 'free' },
        { id: 'beta', name: 'Beta', tier: 'gold' },
      ],
    },
    expect: /tenants\.1\.tier: unknown tier "gold" \(tenant "beta"\); known tiers: free, enterprise/,
  },
  {
    what: 'a duplicate id',
    doc: {
      tiers: TIERS,
      tenants: [
        { id: 'alpha', name: 'Alpha', tier: 'free' },
        { id: 'alpha', name: 'Again', tier: 'free' },
      ],
    },
    expect: /tenants\.1\.id: duplicate tenant id \(tenant "alpha"\)/,
  },
  {
    what: 'a malformed id',
    doc: { tiers: TIERS, tenants: [{ id: 'Alpha_1', name: 'Alpha', tier: 'free' }] },
    expect: /tenants\.0\.id \(tenant "Alpha_1"\): id must be 1 to 40 characters/,
  },
  {
    what: 'a server on a shared tenant',
    doc: { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha', tier: 'free', server: 'default' }] },
    expect: /tenants\.0\.server: only the database model takes a server \(tenant "alpha"\)/,
  },
  {
    what: 'an unknown server',
    doc: { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha', tier: 'enterprise', server: 'eu' }] },
    expect: /tenants\.0\.server: unknown server "eu" \(tenant "alpha"\); known servers: default/,
  },
  {
    what: 'a tenant with neither tier nor strategy',
    doc: { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha' }] },
    expect: /tenants\.0: name a tier or a strategy \(tenant "alpha"\)/,
  },
  {
    what: 'an unknown key',
    doc: { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha', tier: 'free', plan: 'gold' }] },
    expect: /tenants\.0\.plan \(tenant "alpha"\): property plan should not exist/,
  },
  {
    what: 'pool.max out of range',
    doc: {
      tiers: { ...TIERS, enterprise: { strategy: 'database', pool: { max: 1000 } } },
      tenants: [{ id: 'alpha', name: 'Alpha', tier: 'enterprise' }],
    },
    expect: /tiers\.enterprise\.pool\.max: max must not be greater than 100/,
  },
];

describe('invalid configuration fails the start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-bad-config-'));
  // A database that does not exist: if the start ever got as far as connecting, the error would
  // be about that database instead of the configuration.
  const neverCreated = `nt_never_${uniqueSuffix()}`;
  const databaseUrl = urlFor(neverCreated);
  const saved = { ...process.env };
  const file = (name: string, doc: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
    return path;
  };
  let createApp: typeof import('../src/app.factory').createApp;

  beforeAll(async () => {
    Object.assign(process.env, { DATABASE_URL: databaseUrl, TENANCY_CONFIG: file('first.yaml', BAD_FILES[0].doc) });
    delete process.env.TENANT_DB_SERVERS;
    ({ createApp } = await import('../src/app.factory.js'));
  });

  afterAll(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    rmSync(dir, { recursive: true, force: true });
  });

  async function startRejection(): Promise<Error> {
    let app: Awaited<ReturnType<typeof createApp>> | undefined;
    let caught: unknown;
    try {
      app = await createApp({ logger: false });
      await app.init();
    } catch (err) {
      caught = err;
    } finally {
      await app?.close();
    }
    assert.ok(caught instanceof Error, 'the start should have failed');
    return caught;
  }

  for (const [i, bad] of BAD_FILES.entries()) {
    it(`createApp rejects ${bad.what}, naming the key and the tenant`, async () => {
      const path = file(`bad-${i}.yaml`, bad.doc);
      process.env.TENANCY_CONFIG = path;
      const err = await startRejection();
      assert.ok(err instanceof TenancyConfigError, `${err.name}: ${err.message}`);
      assert.equal(err.file, path);
      assert.match(err.message, new RegExp(`^Invalid tenancy configuration in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`));
      assert.match(err.message, bad.expect);
      assert.equal(err.problems.length, 1, err.message);
    });
  }

  it('createApp rejects a file that is missing or not YAML', async () => {
    process.env.TENANCY_CONFIG = join(dir, 'missing.yaml');
    assert.match((await startRejection()).message, /missing\.yaml:\n {2}- cannot read the file \(ENOENT\); set TENANCY_CONFIG to its path/);
    process.env.TENANCY_CONFIG = file('broken.yaml', 'tiers: {free: {strategy: shared}\ntenants: [\n');
    assert.match((await startRejection()).message, /broken\.yaml:\n {2}- not valid YAML: /);
  });

  it('createApp rejects a bad TENANT_DB_SERVERS entry', async () => {
    process.env.TENANCY_CONFIG = file('fine.yaml', { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha', tier: 'free' }] });
    process.env.TENANT_DB_SERVERS = 'eu=postgres://u:secret@eu-db/postgres,eu=postgres://u:secret@eu-db2/postgres';
    try {
      const err = await startRejection();
      assert.ok(err instanceof TenancyConfigError);
      assert.match(err.message, /Invalid tenancy configuration in TENANT_DB_SERVERS:\n {2}- server "eu" is named twice/);
      assert.doesNotMatch(err.message, /secret/);
    } finally {
      delete process.env.TENANT_DB_SERVERS;
    }
  });

  it('a server named in TENANT_DB_SERVERS is a known server for the file', async () => {
    // Same file as the "unknown server" case, now with the server defined: the configuration
    // passes, so the start goes on and fails only at the (missing) database.
    process.env.TENANCY_CONFIG = file('eu.yaml', {
      tiers: TIERS,
      tenants: [{ id: 'alpha', name: 'Alpha', tier: 'enterprise', server: 'eu' }],
    });
    process.env.TENANT_DB_SERVERS = `eu=${databaseUrl}`;
    try {
      const err = await startRejection();
      assert.ok(!(err instanceof TenancyConfigError), err.message);
      assert.match(err.message, new RegExp(`database "${neverCreated}" does not exist`));
    } finally {
      delete process.env.TENANT_DB_SERVERS;
    }
  });

  it('nothing was created on the server by the failed starts', async () => {
    const rows = await withOwnerClient(
      undefined,
      async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname = $1`, [neverCreated])).rows,
    );
    assert.deepEqual(rows, []);
  });

  describe('as `npm start` runs it (node dist/src/main.js)', () => {
    const main = resolve(compiledDir(__dirname), '../src/main.js');

    function start(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
      return new Promise((ok, fail) => {
        const child = spawn(process.execPath, [main], {
          env: {
            ...saved,
            NODE_ENV: 'production',
            DATABASE_URL: databaseUrl,
            JWT_SECRET: 'j'.repeat(40),
            TENANCY_KEKS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
            ...env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          fail(new Error(`the service did not exit within 30 s:\n${output}`));
        }, 30_000);
        child.on('error', fail);
        child.on('exit', (code) => {
          clearTimeout(timer);
          ok({ code, output });
        });
      });
    }

    it('exits with code 1 and prints the key and the tenant', async () => {
      assert.ok(existsSync(main), `${main} is built`);
      const path = file('npm-start.yaml', BAD_FILES[0].doc);
      const { code, output } = await start({ TENANCY_CONFIG: path });
      assert.equal(code, 1, output);
      assert.match(output, /tenants\.1\.tier: unknown tier "gold" \(tenant "beta"\)/);
      assert.ok(output.includes(path));
      assert.doesNotMatch(output, /is running at/);
    });

    it('exits with code 1 on an invalid environment variable, naming it', async () => {
      const path = file('fine-env.yaml', { tiers: TIERS, tenants: [{ id: 'alpha', name: 'Alpha', tier: 'free' }] });
      const { code, output } = await start({ TENANCY_CONFIG: path, TENANCY_POOL_IDLE_MILLIS: '5' });
      assert.equal(code, 1, output);
      assert.match(output, /Invalid environment:\n {2}- TENANCY_POOL_IDLE_MILLIS: TENANCY_POOL_IDLE_MILLIS must not be less than 100/);
      assert.doesNotMatch(output, /is running at/);
    });
  });
});
