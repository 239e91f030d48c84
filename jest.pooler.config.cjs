// `npm run test:pooler`: the e2e and isolation suites, and a move of a tenant of each model under
// write load, with requests going through a real PgBouncer in transaction mode, which
// test/jest/pooler-setup.ts starts in front of the test PostgreSQL.
const base = require('./test/jest/base.config.cjs');

module.exports = {
  ...base.global,
  globalSetup: '<rootDir>/test/jest/pooler-setup.ts',
  projects: [
    {
      ...base.project,
      displayName: 'pooler',
      testMatch: ['test/api.e2e.test.ts', 'test/isolation.e2e.test.ts', 'test/pooler/pooler-move.e2e.test.ts'].map((f) => `<rootDir>/${f}`),
    },
  ],
};
