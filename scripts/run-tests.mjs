#!/usr/bin/env node
// The test command behind `npm test`: runs every compiled test file with Node's test runner against
// real PostgreSQL. Without TEST_DATABASE_URL it starts a throwaway embedded PostgreSQL for the run
// (each suite then creates and drops its own databases and role in it) and stops it afterwards.
//
//   node scripts/run-tests.mjs                 every dist/**/*.test.js
//   node scripts/run-tests.mjs path/a.test.js  only those files
//   TEST_DIST=/tmp/out node scripts/run-tests.mjs   compiled tree elsewhere
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const dist = resolve(process.env.TEST_DIST ?? 'dist');
const require = createRequire(import.meta.url);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    // Suites that need PgBouncer run from `npm run test:pooler` (scripts/run-pooler-tests.mjs).
    if (name === 'pooler' && dir.endsWith('test')) continue;
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out.sort();
}

const files = process.argv.slice(2).length ? process.argv.slice(2) : findTests(dist);
if (!files.length) {
  console.error(`no test files under ${dist}: build first (npm run build:test)`);
  process.exit(1);
}

let embedded;
let workDir;
const env = { ...process.env };
if (!env.TEST_DATABASE_URL) {
  const { startEmbeddedPostgres } = require(join(dist, 'src/database/embedded-postgres.js'));
  workDir = mkdtempSync(join(tmpdir(), 'nest-tenancy-test-'));
  const started = Date.now();
  embedded = await startEmbeddedPostgres({ dir: workDir, persistent: false });
  env.TEST_DATABASE_URL = embedded.url;
  console.log(`embedded PostgreSQL for the tests started in ${Date.now() - started} ms`);
}

const concurrency = env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-timeout=300000', ...files],
  { stdio: 'inherit', env: { ...env, NODE_ENV: 'test' } },
);
const code = await new Promise((ok) => child.on('exit', (c, signal) => ok(c ?? (signal ? 1 : 0))));
if (embedded) {
  await embedded.stop().catch((err) => console.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(code);
