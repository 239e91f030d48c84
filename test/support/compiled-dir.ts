import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { repoRoot } from './repo-root';

/**
 * The compiled counterpart of a source folder: `test/` -> `dist/test/` (TEST_DIST names another
 * compiled tree). Jest runs the TypeScript sources, but what a suite spawns (the service's
 * `src/main.js`, `support/move-child.js`) is the build `npm test` makes first (`npm run build:test`).
 * A folder already under the compiled tree is returned as it is. Throws, saying to build, when the
 * folder is not built.
 */
export function compiledDir(dir: string): string {
  const root = repoRoot();
  const dist = resolve(root, process.env.TEST_DIST ?? 'dist');
  const abs = resolve(dir);
  const out = abs.startsWith(dist + '/') || abs === dist ? abs : join(dist, relative(root, abs));
  if (!existsSync(out)) throw new Error(`${out} does not exist: build first (npm run build:test), or run the tests with npm test`);
  return out;
}
