// Attack (A7) as a new user running `npm start` (node dist/src/main.js):
// 1. The service is killed (SIGKILL, OOM, a closed terminal): its embedded PostgreSQL under
//    .data/postgres keeps running, orphaned. Every later `npm start` in that folder prints only
//    `undefined` and exits 1. Wanted: a message that names .data/postgres and what to do.
// 2. TENANCY_CONFIG naming a file that does not exist: the problem is printed with a stack trace
//    (Nest's ExceptionHandler). Wanted: the problems, one a line, no stack trace, exit 1.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../src/database/embedded-postgres';
import { RUNNING_FILE } from '../src/database/running-server-file';
import { compiledDir } from './support/compiled-dir';

const main = resolve(compiledDir(__dirname), '../src/main.js');

function start(cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [main], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      ok({ code, output });
    });
  });
}

describe('npm start after a bad stop or with a bad environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-bad-start-'));
  let orphan: EmbeddedPostgres | undefined;

  afterAll(async () => {
    await orphan?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('with the embedded PostgreSQL of a killed service still running in .data/postgres, says so instead of `undefined`', async () => {
    // What a killed `npm start` leaves behind: its server, still running on its data directory.
    // Run as root, PostgreSQL runs as `postgres`, which must be able to enter every parent folder.
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, '.data'), { mode: 0o755 });
    orphan = await startEmbeddedPostgres({ dir: join(dir, '.data/postgres'), persistent: true });
    // Its record names the process that started it, which is this test's and alive: make it the
    // killed service's, a process that has exited.
    const record = join(dir, '.data/postgres', RUNNING_FILE);
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(record, JSON.stringify({ ...JSON.parse(readFileSync(record, 'utf8')), pid: gone }));
    const { code, output } = await start(dir, { PORT: String(await freePort()) });
    assert.notEqual(code, 0, output);
    assert.doesNotMatch(output, /^undefined$/m, output);
    assert.match(output, /\.data\/postgres/, output);
    assert.doesNotMatch(output, /^\s+at /m, output);
  });

  it('with DATABASE_URL naming a server that does not answer, says which and what to do, without a stack trace', async () => {
    const { code, output } = await start(dir, {
      DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/never',
      TENANCY_CONFIG: resolve(compiledDir(__dirname), '../../config/tenants.yaml'),
      PORT: String(await freePort()),
    });
    assert.equal(code, 1, output);
    assert.match(output, /Cannot reach the PostgreSQL server of DATABASE_URL \(127\.0\.0\.1:1\)\. Start it, or fix DATABASE_URL/);
    assert.doesNotMatch(output, /secret/, 'the password is never printed');
    assert.doesNotMatch(output, /^\s+at /m, output);
  });

  it('with TENANCY_CONFIG naming a missing file, prints the problem without a stack trace and exits 1', async () => {
    const { code, output } = await start(dir, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never',
      TENANCY_CONFIG: join(dir, 'missing.yaml'),
      PORT: String(await freePort()),
    });
    assert.equal(code, 1, output);
    assert.match(output, /missing\.yaml/);
    assert.doesNotMatch(output, /^\s+at /m, output);
  });
});
