// `npm run test:extra-table`: the suites that look at a tenant's tables and migrations, run with the
// reference app given one more feature table (test/support/extra-table.ts), as a team adopting the
// kit adds one. The kit's tests must hold for an app with more tables than users and projects.
// The table joins the migration set in every test file (setupFiles) and in every service and CLI
// process the suites start (NODE_OPTIONS --require of its build: run `npm run build:test` first).
const { existsSync } = require('node:fs');
const { resolve } = require('node:path');
const base = require('./test/jest/base.config.cjs');

const SUITES = [
  'test/api.e2e.test.ts',
  'test/cli-catalog.e2e.test.ts',
  'test/cli-migrate.e2e.test.ts',
  'test/database-audit.e2e.test.ts',
  'test/deployments.e2e.test.ts',
  'test/isolation.e2e.test.ts',
  'test/lifecycle-admin.e2e.test.ts',
  'test/lifecycle-migrate.e2e.test.ts',
  'test/lifecycle-move.e2e.test.ts',
  'test/openapi.e2e.test.ts',
  'test/tenant-table-audit.e2e.test.ts',
];

const preload = resolve(__dirname, 'dist/test/support/extra-table.js');
if (!existsSync(preload)) throw new Error(`${preload} is missing: build first (npm run build:test)`);
// Read by the workers jest starts and by the processes the suites spawn.
process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--require=${JSON.stringify(preload)}`].filter(Boolean).join(' ');
// Names the table, for the suites that check it is there.
process.env.TEST_EXTRA_TABLE = 'project_labels';

module.exports = {
  ...base.global,
  projects: [
    {
      ...base.project,
      displayName: 'extra-table',
      testMatch: SUITES.map((f) => `<rootDir>/${f}`),
      setupFiles: ['<rootDir>/test/support/extra-table.ts'],
    },
  ],
};
