#!/usr/bin/env node
// The test command behind `npm test`: runs every compiled test file with Node's test runner against
// real PostgreSQL. Without TEST_DATABASE_URL it starts a throwaway embedded PostgreSQL for the run
// (each suite then creates and drops its own databases and role in it) and stops it afterwards.
//
//   node scripts/run-tests.mjs                 every dist/**/*.test.js (on Fastify, the service's
//                                              default platform), then EXPRESS_SUITES again on Express
//   node scripts/run-tests.mjs path/a.test.js  only those files (on HTTP_PLATFORM, default fastify)
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
    // Suites that need PgBouncer run from `npm run test:pooler` (scripts/run-pooler-tests.mjs), and
    // those that need redis-server from `npm run test:redis`.
    if ((name === 'pooler' || name === 'redis') && dir.endsWith('test')) continue;
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out.sort();
}

// The suites whose subject is HTTP behaviour (resolution, body limits, error answers, the admin
// guard, durable providers, the shutdown drain), run a second time on Express, which the service
// still supports: the platform each test app is built on follows HTTP_PLATFORM.
const EXPRESS_SUITES = [
  'test/adopter.e2e.test.js',
  'test/api.e2e.test.js',
  'test/bad-input.e2e.test.js',
  'test/durable-providers.e2e.test.js',
  'test/excluded-paths-case.e2e.test.js',
  'test/hostile.e2e.test.js',
  'test/lifecycle-admin.e2e.test.js',
  'test/module-options.e2e.test.js',
  'test/resolution.e2e.test.js',
  'test/shutdown.e2e.test.js',
];

const chosen = process.argv.slice(2);
const files = chosen.length ? chosen : findTests(dist);
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
function runTests(testFiles, platformEnv) {
  const child = spawn(
    process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-timeout=300000', ...testFiles],
    { stdio: 'inherit', env: { ...env, NODE_ENV: 'test', ...platformEnv } },
  );
  return new Promise((ok) => child.on('exit', (c, signal) => ok(c ?? (signal ? 1 : 0))));
}

let code = await runTests(files, {});
if (!chosen.length) {
  const again = EXPRESS_SUITES.map((f) => join(dist, f));
  console.log(`\nAgain on Express (HTTP_PLATFORM=express): ${EXPRESS_SUITES.length} suites of HTTP behaviour\n`);
  code = (await runTests(again, { HTTP_PLATFORM: 'express' })) || code;
}
if (embedded) {
  await embedded.stop().catch((err) => console.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(code);
