// `npm run test:console`: the operations console driven in Debian's chromium (playwright-core), on
// Fastify and on Express, kept out of `npm test` so the README's test command needs no browser.
// `.ci/run` installs chromium and runs it.
const base = require('./test/jest/base.config.cjs');

const project = { ...base.project, testMatch: ['<rootDir>/test/console/**/*.test.ts'] };

module.exports = {
  ...base.global,
  projects: [
    { ...project, displayName: 'console-fastify' },
    { ...project, displayName: 'console-express', setupFiles: ['<rootDir>/test/jest/express-platform.cjs'] },
  ],
};
