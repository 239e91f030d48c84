/**
 * The peer `npm run bench` measures the kit against: @avallone-io/rls 2.0.4 (app.module.ts) on
 * TypeORM 0.3 from bench/peer/node_modules and the root's NestJS 12, served as the plain app is
 * (bench/plain-app/serve.ts). Environment: DATABASE_URL (the peer_app role on its own database),
 * PORT, PEER_POOL_MAX (10), HTTP_PLATFORM (express).
 *
 * The package lists NestJS 8/9 as optional dependencies; bench/peer/.npmrc leaves them out so its
 * files resolve `@nestjs/*` to the root's copy. Two copies of @nestjs/core would each keep their
 * own tokens (REQUEST, ModuleRef) and fail in ways that look like DI errors, so it is checked first.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// This file runs as bench/peer/dist/peer/src/main.js; the project's root is five folders up.
const ROOT = join(__dirname, '../../../../..');
const nestCore = (from: string) => realpathSync(createRequire(from).resolve('@nestjs/core'));
const root = nestCore(join(ROOT, 'package.json'));
for (const [who, from] of [
  ['the peer app', __filename],
  ['@avallone-io/rls', require.resolve('@avallone-io/rls')],
  ['@nestjs/typeorm', require.resolve('@nestjs/typeorm')],
]) {
  const theirs = nestCore(from);
  if (theirs !== root) {
    console.error(
      `${who} loads another @nestjs/core (${theirs}) than the root's (${root}): rm -rf bench/peer/node_modules and npm run bench`,
    );
    process.exit(1);
  }
}

// Imported only after the check, so a second copy is never loaded.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../plain-app/serve') as typeof import('../../plain-app/serve');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PeerAppModule } = require('./app.module') as typeof import('./app.module');
serve(PeerAppModule);
