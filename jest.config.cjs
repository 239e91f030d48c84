// Jest runs every test of `npm test` (after tsc type-checks and builds: suites spawn the compiled
// service). Two projects: every suite on Fastify (the service's default platform), and the suites
// whose subject is HTTP behaviour again on Express (HTTP_PLATFORM=express). One throwaway embedded
// PostgreSQL serves the run (test/jest/global-setup.ts) unless TEST_DATABASE_URL names a server.
// The PgBouncer suites have their own config (jest.pooler.config.cjs, `npm run test:pooler`), and
// so do the suites that need redis-server (jest.redis.config.cjs, `npm run test:redis`) and the
// console's browser test (jest.console.config.cjs, `npm run test:console`).
//
//   npx jest test/api.e2e.test.ts                     one suite, on both platforms if it is listed below
//   npx jest --selectProjects fastify test/api        one suite, one platform
//   npx jest -t 'rolls back'                          tests whose name matches
const base = require('./test/jest/base.config.cjs');

// The suites of HTTP behaviour (resolution, body limits, error answers, the admin guard, durable
// providers, the shutdown drain, the response cache, the usage routes' order before
// /admin/tenants/:id), run a second time on Express, which the service still supports.
const EXPRESS_SUITES = [
  'test/adopter.e2e.test.ts',
  'test/api.e2e.test.ts',
  'test/bad-input.e2e.test.ts',
  'test/console-page.e2e.test.ts',
  'test/durable-providers.e2e.test.ts',
  'test/excluded-paths-case.e2e.test.ts',
  'test/hostile.e2e.test.ts',
  'test/lifecycle-admin.e2e.test.ts',
  'test/module-options.e2e.test.ts',
  'test/resolution.e2e.test.ts',
  'test/shutdown.e2e.test.ts',
  'test/tenant-cache.e2e.test.ts',
  'test/usage.e2e.test.ts',
];

module.exports = {
  ...base.global,
  projects: [
    {
      ...base.project,
      displayName: 'fastify',
      testMatch: ['<rootDir>/{libs,src,test}/**/*.test.ts'],
      testPathIgnorePatterns: [
        ...base.project.testPathIgnorePatterns,
        '<rootDir>/test/pooler/',
        '<rootDir>/test/redis/',
        '<rootDir>/test/console/',
      ],
    },
    {
      ...base.project,
      displayName: 'express',
      testMatch: EXPRESS_SUITES.map((f) => `<rootDir>/${f}`),
      setupFiles: ['<rootDir>/test/jest/express-platform.cjs'],
    },
  ],
};
