// `npm run test:redis`: the suites that need a redis-server binary (each starts its own on a free
// port), kept out of `npm test` so the README's test command needs nothing installed.
const base = require('./test/jest/base.config.cjs');

module.exports = {
  ...base.global,
  projects: [{ ...base.project, displayName: 'redis', testMatch: ['<rootDir>/test/redis/**/*.test.ts'] }],
};
