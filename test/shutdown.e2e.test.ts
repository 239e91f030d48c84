// Shutdown is not a fault: the service stopped with Ctrl-C (SIGINT) and a CLI command that ends
// both close their connections without a warning or an error line, and exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { deriveDeploymentKey } from '../libs/tenancy/src';
import { freePort } from '../src/database/embedded-postgres';
import { DEFAULT_TIERS, dropEverything } from './support/test-app';
import { childProcessEnv, uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';

const ENTRY = (name: string) => join(__dirname, '..', 'src', `${name}.js`);

describe('shutdown', () => {
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const prefix = `nt${suffix}_`;
  const dir = mkdtempSync(join(tmpdir(), 'nt-shutdown-'));
  const tenantsFile = join(dir, 'tenants.yaml');
  let env: Record<string, string>;

  before(async () => {
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
    writeFileSync(
      tenantsFile,
      stringify({
        tiers: DEFAULT_TIERS,
        tenants: [
          { id: 'acme', name: 'Acme', tier: 'enterprise' },
          { id: 'widget', name: 'Widget', tier: 'pro' },
          { id: 'gadget', name: 'Gadget', tier: 'free' },
        ],
      }),
    );
    env = childProcessEnv({ DATABASE_URL: urlFor(controlDatabase), TENANCY_CONFIG: tenantsFile, TENANCY_DATABASE_PREFIX: prefix, NODE_ENV: 'test' });
  });

  after(async () => {
    await dropEverything(controlDatabase, prefix, `tenancy_app_${deriveDeploymentKey(controlDatabase)}`);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs an entry point until it exits (after `stopWhen` matches its output, with `signal`). */
  function run(
    entry: string,
    args: string[],
    stop?: { when: RegExp; signal: NodeJS.Signals; group?: boolean },
    where: { env?: Record<string, string>; cwd?: string } = {},
  ): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [ENTRY(entry), ...args], {
        env: { ...(where.env ?? env), PORT: String(port) },
        cwd: where.cwd,
        // A process group of its own, as a terminal gives a command: Ctrl-C signals all of it.
        detached: stop?.group === true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      let signalled = false;
      const onData = (d: Buffer) => {
        output += d;
        if (stop && !signalled && stop.when.test(output)) {
          signalled = true;
          // Let the catalog listener and the timers settle into their running state first.
          setTimeout(() => (stop.group ? process.kill(-child.pid!, stop.signal) : child.kill(stop.signal)), 500);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }
  let port = 0;

  it('Ctrl-C stops the service cleanly: exit 0, no WARN or ERROR line', async () => {
    port = await freePort();
    const { code, output } = await run('main', [], { when: /is running at/, signal: 'SIGINT' });
    assert.match(output, /is running at/);
    assert.match(output, /SIGINT: closing pools and stopping/);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
  });

  it('Ctrl-C in a terminal (the whole process group, its embedded PostgreSQL too) stops cleanly', async () => {
    port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), 'nt-shutdown-embedded-'));
    // As a project folder is: readable by the `postgres` user the embedded server runs as under root.
    chmodSync(cwd, 0o755);
    try {
      const withoutDatabase = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'DATABASE_URL'));
      const { code, output } = await run('main', [], { when: /is running at/, signal: 'SIGINT', group: true }, { env: withoutDatabase, cwd });
      assert.match(output, /No DATABASE_URL: starting an embedded PostgreSQL/);
      assert.match(output, /SIGINT: closing pools and stopping/);
      assert.equal(code, 0, output);
      assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('a CLI command ends cleanly: exit 0, no WARN or ERROR line', async () => {
    const { code, output } = await run('cli', ['list']);
    assert.equal(code, 0, output);
    assert.match(output, /acme/);
    assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
  });
});
