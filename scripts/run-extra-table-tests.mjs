#!/usr/bin/env node
// `npm run test:extra-table`: the suites that look at a tenant's tables and migrations, run with the
// reference app given one more feature table (test/support/extra-table.ts, loaded first into every
// test process and every service process they start). The kit's tests must hold for an app with
// more tables than users and projects.
//
//   node scripts/run-extra-table-tests.mjs            the suites below
//   node scripts/run-extra-table-tests.mjs a.test.js  only those (compiled) files
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dist = resolve(process.env.TEST_DIST ?? 'dist');
const SUITES = [
  'test/api.e2e.test.js',
  'test/cli-catalog.e2e.test.js',
  'test/cli-migrate.e2e.test.js',
  'test/database-audit.e2e.test.js',
  'test/deployments.e2e.test.js',
  'test/isolation.e2e.test.js',
  'test/lifecycle-admin.e2e.test.js',
  'test/lifecycle-migrate.e2e.test.js',
  'test/lifecycle-move.e2e.test.js',
  'test/openapi.e2e.test.js',
  'test/tenant-table-audit.e2e.test.js',
];
const preload = join(dist, 'test/support/extra-table.js');
if (!existsSync(preload)) {
  console.error(`${preload} is missing: build first (npm run build:test)`);
  process.exit(1);
}
const chosen = process.argv.slice(2);
const files = chosen.length ? chosen : SUITES.map((f) => join(dist, f));
// NODE_OPTIONS reaches the test runner's processes and the services and CLI runs they spawn.
const nodeOptions = [process.env.NODE_OPTIONS, `--require="${preload.replace(/(["\\])/g, '\\$1')}"`].filter(Boolean).join(' ');
console.log(`With one more feature table (test/support/extra-table.ts): ${files.length} suites\n`);
const child = spawn(process.execPath, [resolve('scripts/run-tests.mjs'), ...files], {
  stdio: 'inherit',
  // TEST_EXTRA_TABLE names the table, for the suites that check it is there.
  env: { ...process.env, NODE_OPTIONS: nodeOptions, TEST_EXTRA_TABLE: 'project_labels' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
